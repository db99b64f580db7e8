"""The encoded-frame relay: one publisher's frames, fanned out to every viewer.

The publisher's RTP is depacketized once (see :mod:`streaming.tap`); each
complete encoded frame becomes one ``av.Packet`` shared (read-only) by all
viewers. Each viewer's sender gets a :class:`RelayTrack` whose ``recv()``
returns those packets, and aiortc's sender then only *packs* them into RTP
(the codec's ``pack`` path): the server never decodes or encodes video.

A viewer's video starts at a keyframe: frames before the first keyframe are
dropped (they could not be decoded), and so is a backlog the viewer could not
keep up with, after which it resumes at the next keyframe. Either way the
session's :class:`~streaming.keyframes.KeyframeRequester` asks the host for
one, rate-limited.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from collections.abc import Callable
from typing import Any, Protocol

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streaming.codecs import CLOCK_RATES, is_keyframe, vp8_frame_size
from streaming.keyframes import KeyframeRequester

__all__ = ["Fanout", "RelayTrack", "SessionRelay", "Subscriber"]

log = logging.getLogger("livecommerce.streaming")


class RelayTrack(MediaStreamTrack):
    """One viewer's track of one kind; ``recv()`` returns pre-encoded ``av.Packet`` s.

    ``on_need_keyframe`` is called when the viewer cannot start or continue
    without a keyframe."""

    def __init__(self, kind: str, *, maxsize: int, on_need_keyframe: Callable[[], None]) -> None:
        super().__init__()
        self.kind = kind
        self._queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue(maxsize)
        self._need_keyframe = kind == "video"
        self._on_need_keyframe = on_need_keyframe
        self._started = False
        #: Frames handed to the sender, and frames dropped (before a keyframe or as backlog).
        self.frames_sent = 0
        self.frames_dropped = 0

    @property
    def on_media(self) -> bool:
        """Whether this viewer is actually getting decodable media."""
        return self._started and not self._need_keyframe

    def restart(self) -> None:
        """A new publisher's stream begins: video still queued from the old one
        is dropped (it may even be another codec) and the new one's first
        keyframe starts the picture again; audio (always Opus) plays on."""
        if self.kind == "video":
            self.frames_dropped += self._drain()
            self._need_keyframe = True

    def offer(self, packet: av.Packet[Any], keyframe: bool) -> None:
        """Queue one frame for this viewer (called by :class:`Fanout`, never blocks)."""
        if self.readyState != "live":
            return
        if self._need_keyframe:
            if not keyframe:
                self.frames_dropped += 1
                return
            self._need_keyframe = False
        try:
            self._queue.put_nowait(packet)
        except asyncio.QueueFull:
            # The viewer's sender cannot keep up (slow link, starved loop): drop its
            # backlog rather than delay it further; video resumes at a keyframe.
            self.frames_dropped += self._drain()
            if self.kind == "video":
                self._need_keyframe = True
                self._on_need_keyframe()
            else:
                self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if not self._started:
            # The sender starts reading once DTLS is up: the moment a keyframe is useful.
            self._started = True
            if self._need_keyframe:
                self._on_need_keyframe()
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        self.frames_sent += 1
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            self._drain()
            self._queue.put_nowait(None)  # wake a pending recv()

    def _drain(self) -> int:
        dropped = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            dropped += 1
        return dropped


class Subscriber(Protocol):
    """A consumer of a fan-out's frames that is not a WebRTC viewer (the HLS
    packager): :meth:`offer` must not block (queue, and drop a backlog)."""

    def offer(self, packet: av.Packet[Any], keyframe: bool) -> None: ...

    def restart(self) -> None: ...


class Fanout:
    """All viewers of one kind (video or audio) of one session.

    Output timestamps stay continuous when the publisher reconnects (a new
    publisher's RTP clock starts again at 0), so viewers can stay connected."""

    def __init__(self, kind: str, *, maxsize: int, on_need_keyframe: Callable[[], None]) -> None:
        self.kind = kind
        self.time_base = fractions.Fraction(1, CLOCK_RATES[kind])
        self._step = CLOCK_RATES[kind] // 30 if kind == "video" else 960
        self._maxsize = maxsize
        self._on_need_keyframe = on_need_keyframe
        self.tracks: set[RelayTrack] = set()
        #: Non-viewer subscribers (not counted as viewers anywhere).
        self.subscribers: set[Subscriber] = set()
        self._offset = 0
        self._last_pts: int | None = None
        self._rebase = True

    def subscribe(self) -> RelayTrack:
        track = RelayTrack(
            self.kind, maxsize=self._maxsize, on_need_keyframe=self._on_need_keyframe
        )
        self.tracks.add(track)
        return track

    def unsubscribe(self, track: RelayTrack) -> None:
        self.tracks.discard(track)
        track.stop()

    def new_publisher(self) -> None:
        """The next frame starts a new publisher's timeline (and, for video, its
        first keyframe starts every viewer's picture again)."""
        self._rebase = True
        for track in self.tracks:
            track.restart()
        for subscriber in self.subscribers:
            subscriber.restart()

    def push(self, data: bytes, pts: int, keyframe: bool) -> None:
        if self._rebase:
            self._rebase = False
            self._offset = 0 if self._last_pts is None else self._last_pts + self._step - pts
        out_pts = pts + self._offset
        self._last_pts = out_pts
        if not self.tracks and not self.subscribers:
            return
        packet = av.Packet(data)
        packet.pts = out_pts
        packet.time_base = self.time_base
        for track in self.tracks:
            track.offer(packet, keyframe)
        for subscriber in self.subscribers:
            subscriber.offer(packet, keyframe)


class SessionRelay:
    """The relay of one live session: its publisher's frames, its viewers' tracks,
    its keyframe requests and the counters :mod:`streaming.stats` samples."""

    def __init__(
        self,
        session_id: int,
        *,
        viewer_queue: int = 90,
        keyframe_interval: float = 1.0,
    ) -> None:
        self.session_id = session_id
        self.keyframes = KeyframeRequester(self._send_pli, min_interval=keyframe_interval)
        self.video = Fanout("video", maxsize=viewer_queue, on_need_keyframe=self.keyframes.request)
        self.audio = Fanout("audio", maxsize=viewer_queue, on_need_keyframe=self.keyframes.request)
        #: The publisher's negotiated video codec (``video/VP8``...), None when nobody publishes.
        self.video_mime: str | None = None
        #: ``(width, height)`` of the host's last VP8 key frame (None before one, or for H.264).
        self.video_size: tuple[int, int] | None = None
        self._pli: Callable[[], None] | None = None
        # Counters (monotonic); stats.py turns them into rates.
        self.video_bytes = 0
        self.video_frames = 0
        self.keyframes_in = 0
        self.audio_frames = 0

    @property
    def publishing(self) -> bool:
        return self._pli is not None

    def attach_publisher(self, *, video_mime: str | None, send_pli: Callable[[], None]) -> None:
        """A publisher is on: frames will come via :meth:`on_frame`; ``send_pli``
        asks it for a keyframe (must not block)."""
        self.video_mime = video_mime
        self._pli = send_pli
        self.video.new_publisher()
        self.audio.new_publisher()
        if self.video.tracks:
            self.keyframes.request()

    def detach_publisher(self, send_pli: Callable[[], None]) -> None:
        """The publisher that attached with ``send_pli`` is gone (no-op if another
        has replaced it meanwhile)."""
        if self._pli == send_pli:
            self._pli = None
            self.video_mime = None

    def on_frame(self, kind: str, mime: str, data: bytes, pts: int) -> None:
        """One complete encoded frame from the publisher (called on the event loop)."""
        if kind == "video":
            keyframe = is_keyframe(mime, data)
            self.video_frames += 1
            self.video_bytes += len(data)
            if keyframe:
                self.keyframes_in += 1
                self.video_size = vp8_frame_size(data) if mime.lower() == "video/vp8" else None
            self.video.push(data, pts, keyframe)
        else:
            self.audio_frames += 1
            self.audio.push(data, pts, True)

    def viewers_on_media(self) -> int:
        return sum(1 for t in self.video.tracks if t.on_media)

    def _send_pli(self) -> None:
        if self._pli is not None:
            self._pli()

    def close(self) -> None:
        self.keyframes.close()
        for fan in (self.video, self.audio):
            for track in list(fan.tracks):
                fan.unsubscribe(track)
            fan.subscribers.clear()
