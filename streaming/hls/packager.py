"""One live show's LL-HLS packager: a subscriber of the relay like a viewer.

:meth:`ShowPackager.offer` is called by the relay's video
:class:`~streaming.relay.Fanout` with the shared encoded ``av.Packet`` and
never blocks: frames go to a bounded queue, and a packager that falls behind
drops its backlog and resumes at the next keyframe (it never slows a
viewer). Its task turns them into parts and segments (:mod:`.segmenter`);
H.264 is remuxed as it is, VP8 is encoded to H.264 once per show
(:mod:`.transcode`, in a worker thread).

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
from streaming.hls.playlist import Timeline, index_document, vod_playlist
from streaming.hls.segmenter import Segmenter
from streaming.hls.store import MediaStore, show_prefix
from streaming.hls.transcode import Vp8ToH264
from streaming.relay import SessionRelay

__all__ = ["ShowPackager"]

log = logging.getLogger("livecommerce.streaming")


class ShowPackager:
    def __init__(
        self,
        session_id: int,
        store: MediaStore,
        *,
        part_target: float,
        segment_target: float,
        queue_size: int = 90,
        on_start: Callable[[int], None] | None = None,
        on_part: Callable[[list[float], float], None] | None = None,
    ) -> None:
        """``on_part(latencies, cpu_s)``: after each frame that completed parts, the
        seconds from each of their frames' arrival to the part being written, and the
        CPU time the packager spent since the last call."""
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
        self._queue: asyncio.Queue[tuple[bytes, int, bool, str | None, float] | None] = (
            asyncio.Queue(queue_size)
        )
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

    def detach(self) -> None:
        if self.relay is not None:
            self.relay.video.subscribers.discard(self)
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
            self._queue.put_nowait((bytes(packet), packet.pts, keyframe, mime, time.monotonic()))
        except asyncio.QueueFull:
            self.frames_dropped += self._drain() + 1
            self._need_keyframe = True
            self.request_keyframe()

    def restart(self) -> None:
        """A new publisher: its frames start at its first keyframe."""
        self.frames_dropped += self._drain()
        self._need_keyframe = True

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
            data, pts, keyframe, mime, arrived = item
            self.frames_in += 1
            started = time.thread_time()
            try:
                changed = await self._package(data, pts, keyframe, mime, arrived)
            except Exception:
                log.exception("HLS: session %s: frame not packaged", self.session_id)
                continue
            self._cpu_s += time.thread_time() - started
            if changed and self._on_part is not None:
                self._on_part(self.segmenter.latencies, self._cpu_s)
                self.segmenter.latencies = []
                self._cpu_s = 0.0
            if self.segmenter.wants_keyframe:
                self.request_keyframe()
            if changed:
                async with self.changed:
                    self.changed.notify_all()

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
        self.segmenter.finish()
        timeline = self.timeline
        timeline.ended = True
        if timeline.started:
            index = index_document(timeline, session_id=self.session_id, codec=self.segmenter.codec)
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
