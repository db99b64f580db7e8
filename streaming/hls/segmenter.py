"""H.264 access units in, CMAF parts and segments out (no asyncio, no decoding).

:meth:`Segmenter.add` takes one frame (Annex B, 90 kHz pts). A part is closed
when the next frame would take it past the part target, or at a keyframe that
starts a new segment; a segment is cut at the first keyframe after 3/4 of the
segment target (:attr:`wants_keyframe` tells the packager to ask the host for
one before that), and, if the host sends none, at ``TARGETDURATION`` minus a
part anyway (that segment is then not independent). A part's duration never
exceeds the part target: after a gap in the frames, its last frame is given
the time left and the next part starts at its real time (a gap in the media
timeline, which players step over), so the playlist's durations stay true.

With :attr:`Segmenter.audio` set before the first frame, the init segment has
an AAC track too and every part carries the audio encoded up to its close
(:mod:`.audio`), in a second ``traf``: parts stay the video's, audio rides
along.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import av

from streaming.hls import fmp4
from streaming.hls.audio import AacTrack
from streaming.hls.playlist import Part, Segment, Timeline, part_name, segment_name
from streaming.hls.store import MediaStore

__all__ = ["Segmenter"]

log = logging.getLogger("livecommerce.streaming")

_TICKS = fmp4.TIMESCALE
_FRAME = _TICKS // 30  # the nominal frame duration, when the next frame says nothing


@dataclass(slots=True)
class _Frame:
    data: bytes
    pts: int
    keyframe: bool
    #: ``time.monotonic()`` when it reached the packager.
    arrived: float


class Segmenter:
    def __init__(
        self,
        store: MediaStore,
        prefix: str,
        timeline: Timeline,
        *,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.timeline = timeline
        self._clock_ms = clock_ms
        self._part_ticks = round(timeline.part_target * _TICKS)
        self._segment_ticks = round(timeline.segment_target * _TICKS)
        self._max_segment_ticks = round((timeline.target_duration - timeline.part_target) * _TICKS)
        self.codec: str | None = None
        #: The show's AAC track (set by the packager before the first frame; None: video only).
        self.audio: AacTrack | None = None
        self._first_pts: int | None = None
        self._pending: list[_Frame] = []
        self._part_bytes: list[bytes] = []
        self._segment_start: int | None = None
        self._segment_independent = True
        self._sequence = 0
        #: Called once with the stream start (unix ms) when the first frame is written.
        self.on_start: Callable[[int], None] | None = None
        #: Seconds from each frame's arrival to its part being written (drained by the caller).
        self.latencies: list[float] = []

    @property
    def wants_keyframe(self) -> bool:
        """Whether the segment being made is old enough to be cut at the next keyframe."""
        return (
            self._segment_start is not None
            and self._last_pts - self._segment_start >= self._segment_ticks * 0.6
        )

    @property
    def codecs(self) -> str | None:
        """The RFC 6381 codecs of the show (``avc1.42e01f,mp4a.40.2``), None before it starts."""
        if self.codec is None:
            return None
        return self.codec + (",mp4a.40.2" if self.audio is not None else "")

    def audio_position(self, pts: int) -> int | None:
        """A video pts as a position of the show in 48 kHz ticks (None before the start)."""
        if self._first_pts is None:
            return None
        return (pts - self._first_pts) * fmp4.AUDIO_TIMESCALE // _TICKS

    @property
    def _last_pts(self) -> int:
        return self._pending[-1].pts if self._pending else (self._segment_start or 0)

    def add(self, data: bytes, pts: int, keyframe: bool, arrived: float | None = None) -> bool:
        """Take one frame (``arrived``: when it reached the packager, monotonic);
        True if a part (or segment) was completed."""
        if self._first_pts is None:
            if not keyframe or not self._start(data, pts, arrived):
                return False
        assert self._first_pts is not None and self._segment_start is not None
        if pts < self._last_pts:
            return False  # out of order (a republish rebases timestamps forward)
        nals = fmp4.annexb_nals(data)
        arrival = time.monotonic() if arrived is None else arrived
        frame = _Frame(fmp4.avcc_sample(nals), pts, keyframe, arrival)
        changed = False
        if self._pending:
            part_start = self._pending[0].pts
            seg_age = pts - self._segment_start
            if (keyframe and seg_age >= self._segment_ticks * 0.75) or (
                seg_age >= self._max_segment_ticks
            ):
                self._close_part(pts)
                self._close_segment(pts, keyframe)
                changed = True
            elif pts + _FRAME // 2 - part_start > self._part_ticks:
                self._close_part(pts)
                changed = True
        self._pending.append(frame)
        return changed

    def finish(self) -> None:
        """Close what is pending (the show ended)."""
        if self._pending:
            end = self._pending[-1].pts + _FRAME
            self._close_part(end)
            self._close_segment(end, True)

    def _start(self, data: bytes, pts: int, arrived: float | None) -> bool:
        nals = fmp4.annexb_nals(data)
        sets = fmp4.parameter_sets(nals)
        if sets is None:
            return False
        size = _picture_size(data)
        if size is None:
            return False
        sps, pps = sets
        audio = self.audio.config if self.audio is not None else None
        self.store.write(self.prefix + "init.mp4", fmp4.init_segment(sps, pps, *size, audio=audio))
        self.codec = fmp4.codec_string(sps)
        now = self._clock_ms()
        if arrived is not None:  # the wall time it reached the packager (it may have waited)
            now -= max(0, round((time.monotonic() - arrived) * 1000))
        self._first_pts = self._segment_start = pts
        timeline = self.timeline
        timeline.stream_start_ms = timeline.current_pdt_ms = now
        if self.on_start is not None:
            self.on_start(now)
        return True

    def _close_part(self, next_pts: int) -> None:
        assert self._first_pts is not None
        frames = self._pending
        part_start = frames[0].pts
        samples = []
        for frame, after in zip(frames, [*frames[1:], None], strict=True):
            duration = (after.pts if after is not None else next_pts) - frame.pts
            if after is None:  # the last frame: at most what the part target leaves
                duration = min(duration, self._part_ticks - (frame.pts - part_start))
            samples.append(fmp4.Sample(frame.data, max(duration, 1), frame.keyframe))
        self._sequence += 1
        audio = None
        if self.audio is not None:
            end = self.audio_position(next_pts)
            assert end is not None
            self.audio.fill(end)
            audio = self.audio.take()
        data = fmp4.fragment(self._sequence, part_start - self._first_pts, samples, audio)
        timeline = self.timeline
        part = Part(
            msn=timeline.next_msn,
            index=len(timeline.current),
            duration=sum(s.duration for s in samples) / _TICKS,
            independent=frames[0].keyframe,
            size=len(data),
        )
        self.store.write(self.prefix + part_name(part.msn, part.index), data)
        written = time.monotonic()
        self.latencies += [written - f.arrived for f in frames]
        self._part_bytes.append(data)
        timeline.current.append(part)
        self._pending = []

    def _close_segment(self, next_pts: int, next_is_keyframe: bool) -> None:
        assert self._first_pts is not None and self._segment_start is not None
        timeline = self.timeline
        data = b"".join(self._part_bytes)
        self.store.write(self.prefix + segment_name(timeline.next_msn), data)
        assert timeline.stream_start_ms is not None
        timeline.segments.append(
            Segment(
                msn=timeline.next_msn,
                duration=sum(p.duration for p in timeline.current),
                pdt_ms=timeline.current_pdt_ms,
                start_ms=(self._segment_start - self._first_pts) // 90,
                independent=self._segment_independent,
                size=len(data),
                parts=timeline.current,
            )
        )
        timeline.next_msn += 1
        timeline.current = []
        self._part_bytes = []
        self._segment_start = next_pts
        self._segment_independent = next_is_keyframe
        timeline.current_pdt_ms = timeline.stream_start_ms + (next_pts - self._first_pts) // 90


def _picture_size(keyframe: bytes) -> tuple[int, int] | None:
    """The picture size of an H.264 keyframe (decoded once per show, for the init segment)."""
    decoder = av.CodecContext.create("h264", "r")
    try:
        frames = decoder.decode(av.Packet(keyframe))
        frames += decoder.decode(None)
    except av.error.FFmpegError:
        log.warning("HLS: the first H.264 keyframe does not decode")
        return None
    return (frames[0].width, frames[0].height) if frames else None
