#!/usr/bin/env python
"""The baseline of scripts/bench_relay.py: aiortc's stock ``MediaRelay`` path.

The same server and endpoints as ``livecommerce serve``, but the streaming
component is built with resource types that decode the host's video once
(aiortc's receiver, as it normally runs) and re-encode it for every viewer
(one encoder per viewer's sender) — what the encoded relay saves. This is the
only home of that path: production code knows nothing of it, it plugs in
through ``StreamingComponent(publisher_type=..., viewer_type=...)`` and the
overridable ``Publisher._receive`` / ``Viewer._attach``.

Run by the bench with the environment of ``livecommerce serve``
(``PORT``, ``DATABASE_URL``, ...): ``relay_baseline.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import Awaitable, Callable

from aiortc import RTCConfiguration, RTCRtpTransceiver, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streaming.peer import PeerResource
from streaming.relay import SessionRelay
from streaming.whep import Viewer
from streaming.whip import Publisher

__all__ = ["DecodingPublisher", "DecodingRelay", "DecodingViewer", "main"]


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


# One decoding relay per session relay, for as long as that relay lives.
_decoders: weakref.WeakKeyDictionary[SessionRelay, DecodingRelay] = weakref.WeakKeyDictionary()


def _decoder(relay: SessionRelay) -> DecodingRelay:
    return _decoders.setdefault(relay, DecodingRelay())


class DecodingPublisher(Publisher):
    """The host's receivers decode as aiortc normally does (no tap)."""

    def _receive(self, transceiver: RTCRtpTransceiver) -> None:
        pass

    @classmethod
    async def open(
        cls,
        offer: RTCSessionDescription,
        *,
        session_id: int,
        relay: SessionRelay,
        configuration: RTCConfiguration,
        on_closed: Callable[[PeerResource], Awaitable[None]],
        start_kbps: int = 0,
    ) -> Publisher:
        self = await super().open(
            offer,
            session_id=session_id,
            relay=relay,
            configuration=configuration,
            on_closed=on_closed,
            start_kbps=start_kbps,
        )
        for transceiver in self.pc.getTransceivers():
            if transceiver.mid is not None:
                _decoder(relay).attach(transceiver.kind, transceiver.receiver.track)
        return self

    def release(self) -> None:
        super().release()
        decoder = _decoders.pop(self.relay, None)
        if decoder is not None:
            decoder.close()


class DecodingViewer(Viewer):
    """Each sender re-encodes the publisher's decoded frames (connect after the host)."""

    def _attach(self, transceiver: RTCRtpTransceiver) -> None:
        track = _decoder(self.relay).subscribe(transceiver.kind)
        if track is not None:
            transceiver.sender.replaceTrack(track)
            self.tracks.append(track)

    @property
    def on_media(self) -> bool:
        return any(t.kind == "video" for t in self.tracks)


def main() -> None:
    import uvicorn

    from livecommerce.app import Parts, create_app, default_parts
    from livecommerce.observability import configure_logging
    from livecommerce.services import Services
    from livecommerce.settings import Settings
    from streaming.component import StreamingComponent

    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level, library_level=settings.library_log_level)

    def decoding_parts(services: Services) -> Parts:
        relay = StreamingComponent(
            services, publisher_type=DecodingPublisher, viewer_type=DecodingViewer
        )
        return default_parts(services, streaming=relay)

    uvicorn.run(
        create_app(settings, parts=decoding_parts),
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level.lower(),
        loop="uvloop",
    )


if __name__ == "__main__":
    main()
