"""aiortc's stock ``MediaRelay`` path — kept only as the benchmark baseline.

With ``STREAM_RELAY_MODE=mediarelay`` the publisher's receiver decodes as
aiortc normally does, and each viewer's sender re-encodes the decoded frames
(one encoder per viewer). ``scripts/bench_relay.py`` runs it in the same run
as the encoded relay to measure what forwarding encoded frames saves.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

__all__ = ["DecodingRelay"]


class DecodingRelay:
    """Decoded tracks of one publisher, subscribed to by viewers."""

    def __init__(self) -> None:
        self._relay = MediaRelay()
        self._sources: dict[str, MediaStreamTrack] = {}
        self._drains: list[asyncio.Task[None]] = []

    def attach(self, kind: str, track: MediaStreamTrack) -> None:
        """Relay ``track``; it is read even with no viewers, so decoded frames
        do not pile up in its queue."""
        self._sources[kind] = track
        self._drains.append(asyncio.create_task(_drain(self._relay.subscribe(track, False))))

    def subscribe(self, kind: str) -> MediaStreamTrack | None:
        source = self._sources.get(kind)
        return None if source is None else self._relay.subscribe(source, buffered=False)

    def close(self) -> None:
        for task in self._drains:
            task.cancel()
        self._drains.clear()
        self._sources.clear()


async def _drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
        while True:
            await track.recv()
