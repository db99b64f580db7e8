"""One live show's LL-HLS packager: a subscriber of the relay like a viewer.

:meth:`ShowPackager.offer` is called by the relay's video
:class:`~streaming.relay.Fanout` with the shared encoded ``av.Packet`` and
never blocks: frames go to a bounded queue, and a packager that falls behind
drops its backlog and resumes at the next keyframe (it never slows a
viewer). Its task turns them into parts and segments (:mod:`.segmenter`);
H.264 is remuxed as it is, VP8 is encoded to H.264 once per show
(:mod:`.transcode`, in a worker thread).

It takes the relay's audio too (Opus, through the same queue, so frames are
handled in arrival order) and encodes it to AAC once per show
(:mod:`.audio`), muxed into the same parts. Whether the show has audio is
decided at its first keyframe, because the init segment says it: audio if an
Opus frame came before it, or within :data:`AUDIO_WAIT_S` after it (the
video waits that long for it, once); otherwise the show is video only.

Blocking playlist reload waits on :attr:`changed` (an ``asyncio.Condition``),
notified at every part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import av

from livecommerce import encoding
from streaming.hls.audio import AacTrack, opus_channels
from streaming.hls.playlist import Timeline, index_document, vod_playlist
from streaming.hls.segmenter import Segmenter
from streaming.hls.store import MediaStore, show_prefix
from streaming.hls.transcode import Vp8ToH264
from streaming.relay import SessionRelay

__all__ = ["AUDIO_WAIT_S", "ShowPackager"]

log = logging.getLogger("livecommerce.streaming")

#: How long the show's first keyframe waits for the host's first audio frame.
AUDIO_WAIT_S = 0.5

#: A queued frame: kind ("video"/"audio"), data, pts, keyframe, video mime, arrival (monotonic).
_Item = tuple[str, bytes, int, bool, str | None, float]


class _AudioTap:
    """The packager's subscription to the relay's audio."""

    def __init__(self, packager: ShowPackager) -> None:
        self._packager = packager

    def offer(self, packet: av.Packet[Any], keyframe: bool) -> None:
        self._packager.offer_audio(packet)

    def restart(self) -> None:
        self._packager.restart()


class ShowPackager:
    def __init__(
        self,
        session_id: int,
        store: MediaStore,
        *,
        part_target: float,
        segment_target: float,
        queue_size: int = 150,
        on_start: Callable[[int], None] | None = None,
        on_part: Callable[[list[float], float, float], None] | None = None,
    ) -> None:
        """``on_part(latencies, cpu_s, audio_cpu_s)``: after each frame that completed
        parts, the seconds from each of their frames' arrival to the part being written,
        the CPU time the packager spent since the last call, and how much of it went to
        the audio (Opus decode + AAC encode)."""
        self.session_id = session_id
        self.store = store
        self.prefix = show_prefix(session_id)
        self.timeline = Timeline(part_target=part_target, segment_target=segment_target)
        self.segmenter = Segmenter(store, self.prefix, self.timeline)
        self.segmenter.on_start = on_start
        self._on_part = on_part
        self._cpu_s = 0.0
        self.changed = asyncio.Condition()
        #: The relay it takes frames from (None between two relays of the show).
        self.relay: SessionRelay | None = None
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue(queue_size)
        self._audio_tap = _AudioTap(self)
        #: Channels of the host's first Opus frame (None before one).
        self._audio_channels: int | None = None
        #: Whether the show's tracks are decided (the init segment is written with them).
        self._tracks_decided = False
        #: Video frames waiting for that decision.
        self._held: list[_Item] = []
        self._audio_cpu_s = 0.0
        self._need_keyframe = True
        self._transcoder: Vp8ToH264 | None = None
        self._task = asyncio.create_task(self._run())
        #: Counters: frames taken in, frames dropped (before a keyframe or as backlog).
        self.frames_in = 0
        self.frames_dropped = 0

    # --- the relay side (never blocks) ---------------------------------------

    def attach(self, relay: SessionRelay) -> None:
        """Take the video of ``relay`` (the show's relay on this node) from now on."""
        if self.relay is not relay:
            self.detach()
            self.relay = relay
            self.restart()
        relay.video.subscribers.add(self)
        relay.audio.subscribers.add(self._audio_tap)

    def detach(self) -> None:
        if self.relay is not None:
            self.relay.video.subscribers.discard(self)
            self.relay.audio.subscribers.discard(self._audio_tap)
            self.relay = None

    def request_keyframe(self) -> None:
        if self.relay is not None:
            self.relay.keyframes.request()

    def offer(self, packet: av.Packet[Any], keyframe: bool) -> None:
        if self._need_keyframe:
            if not keyframe:
                self.frames_dropped += 1
                return
            self._need_keyframe = False
        assert packet.pts is not None
        try:
            mime = self.relay.video_mime if self.relay is not None else None
            item = ("video", bytes(packet), packet.pts, keyframe, mime, time.monotonic())
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._overflow()

    def offer_audio(self, packet: av.Packet[Any]) -> None:
        if self._need_keyframe and self._tracks_decided:
            return  # placed against the video: none until its next keyframe
        assert packet.pts is not None
        try:
            item = ("audio", bytes(packet), packet.pts, True, None, time.monotonic())
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._overflow()

    def _overflow(self) -> None:
        self.frames_dropped += self._drain() + 1
        self._need_keyframe = True
        self.request_keyframe()
        self._restart_audio()

    def restart(self) -> None:
        """A new publisher: its frames start at its first keyframe."""
        self.frames_dropped += self._drain()
        self._need_keyframe = True
        self._restart_audio()

    def _restart_audio(self) -> None:
        self.frames_dropped += len(self._held)
        self._held = []
        if self.segmenter.audio is not None:
            self.segmenter.audio.restart()

    def _drain(self) -> int:
        dropped = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            dropped += 1
        return dropped

    # --- the packaging task ----------------------------------------------------

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            started = time.thread_time()
            try:
                if item[0] == "audio":
                    changed = await self._audio(item)
                else:
                    self.frames_in += 1
                    changed = await self._video(item)
            except Exception:
                log.exception("HLS: session %s: frame not packaged", self.session_id)
                continue
            self._cpu_s += time.thread_time() - started
            if changed and self._on_part is not None:
                self._on_part(self.segmenter.latencies, self._cpu_s, self._audio_cpu_s)
                self.segmenter.latencies = []
                self._cpu_s = self._audio_cpu_s = 0.0
            if self.segmenter.wants_keyframe:
                self.request_keyframe()
            if changed:
                async with self.changed:
                    self.changed.notify_all()

    async def _audio(self, item: _Item) -> bool:
        _, data, pts, _, _, arrived = item
        if self._audio_channels is None:
            self._audio_channels = opus_channels(data)
        changed = False
        if not self._tracks_decided and self._held:
            changed = await self._release_held()
        audio = self.segmenter.audio
        if audio is not None:
            started = time.thread_time()
            audio.add(data, pts, arrived)
            self._audio_cpu_s += time.thread_time() - started
        return changed

    async def _video(self, item: _Item) -> bool:
        if not self._tracks_decided:
            first = self._held[0][5] if self._held else item[5]
            if self._audio_channels is None and item[5] - first < AUDIO_WAIT_S:
                self._held.append(item)
                return False
            self._held.append(item)
            return await self._release_held()
        return await self._package_video(item)

    async def _release_held(self) -> bool:
        """Decide the show's tracks (audio if the host's audio came) and package the
        video frames that waited for it."""
        self._tracks_decided = True
        if self._audio_channels is not None:
            self.segmenter.audio = AacTrack(self._audio_channels)
        held, self._held = self._held, []
        changed = False
        for item in held:
            changed = await self._package_video(item) or changed
        return changed

    async def _package_video(self, item: _Item) -> bool:
        _, data, pts, keyframe, mime, arrived = item
        changed = await self._package(data, pts, keyframe, mime, arrived)
        audio = self.segmenter.audio
        if audio is not None and audio.needs_reference:
            position = self.segmenter.audio_position(pts)
            if position is not None:
                audio.reference(position, arrived)
        return changed

    async def _package(
        self, data: bytes, pts: int, keyframe: bool, mime: str | None, arrived: float
    ) -> bool:
        if (mime or "").lower() != "video/vp8":
            return self.segmenter.add(data, pts, keyframe, arrived)
        if self._transcoder is None:
            if not keyframe:
                return False
            self._transcoder = Vp8ToH264()
        transcoder = self._transcoder
        force = self.timeline.started and self.segmenter.wants_keyframe
        out, cpu_s = await asyncio.to_thread(_timed, transcoder, data, pts, force)
        self._cpu_s += cpu_s
        changed = False
        for annexb, out_pts, out_key in out:
            changed = self.segmenter.add(annexb, out_pts, out_key, arrived) or changed
        return changed

    async def wait_for(self, msn: int, part: int | None, timeout: float) -> bool:
        """Wait until the playlist holds segment ``msn`` (or that part of it), or the
        show ended; False on timeout."""
        timeline = self.timeline

        def ready() -> bool:
            return timeline.ended or timeline.has(msn, part)

        if ready():
            return True
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(ready), timeout)
            except TimeoutError:
                return False
        return True

    async def finish(self) -> None:
        """The show ended: close the last part and segment, write ``vod.m3u8`` and
        ``index.json``, drop the parts (the segments hold the same bytes)."""
        self.detach()
        await self._stop_task()
        if self._held:
            await self._release_held()
        self.segmenter.finish()
        timeline = self.timeline
        timeline.ended = True
        if timeline.started:
            index = index_document(
                timeline, session_id=self.session_id, codec=self.segmenter.codecs
            )
            self.store.write(self.prefix + "index.json", encoding.dumps(index))
            self.store.write(self.prefix + "vod.m3u8", vod_playlist(timeline).encode())
            for seg in timeline.segments:
                for part in seg.parts:
                    with contextlib.suppress(OSError):
                        self.store.delete_prefix(self.prefix + f"part{part.msn}.{part.index}.m4s")
        async with self.changed:
            self.changed.notify_all()

    async def close(self) -> None:
        """Stop without ending the show (the server stops)."""
        self.detach()
        await self._stop_task()

    async def _stop_task(self) -> None:
        self._drain()
        if not self._task.done():
            self._queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._transcoder = None


def _timed(
    transcoder: Vp8ToH264, data: bytes, pts: int, force: bool
) -> tuple[list[tuple[bytes, int, bool]], float]:
    """The transcoder's output and the CPU time it took (in its worker thread)."""
    started = time.thread_time()
    out = transcoder.encode(data, pts, force_keyframe=force)
    return out, time.thread_time() - started
