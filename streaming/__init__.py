"""WebRTC ingest (WHIP) and playback (WHEP) with an encoded-media relay, on aiortc."""
