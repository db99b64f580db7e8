"""Chat moderation: mutes, bans, slow mode, blocked words, message deletion, ending a
stream, and the SQL audit log of every action."""
