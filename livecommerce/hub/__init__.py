"""The WebSocket hub: session events fanned out through Redis Streams to every viewer."""
