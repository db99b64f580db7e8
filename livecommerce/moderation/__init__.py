"""Chat moderation: who may chat in a session, and deleting messages."""
