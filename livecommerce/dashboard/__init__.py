"""Live session dashboards: numbers computed from real events, pushed to moderators."""
