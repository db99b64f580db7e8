"""Live sessions (shows): schedule, go live, end; lineups; per-session moderators."""
