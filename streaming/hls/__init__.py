"""LL-HLS from the relay: a packager per live show, its media store, its HTTP endpoints.

See docs/streaming.md, "LL-HLS"."""
