"""Streaming: WHIP ingest, WHEP playback and an encoded-frame relay on aiortc.

The host's RTP is depacketized once and its encoded frames are handed to every
viewer's sender as pre-encoded packets: the server never decodes or encodes
video. See ``docs/streaming.md``.
"""

from __future__ import annotations

from streaming.component import StreamingComponent
from streaming.relay import RelayTrack, SessionRelay

__all__ = ["RelayTrack", "SessionRelay", "StreamingComponent"]
