"""Opus → AAC-LC, once per show: the audio of the show's HLS (no asyncio).

Safari's native HLS player does not play Opus in fMP4, and AAC is the audio
codec every HLS player plays, so the relay's Opus frames are decoded and
encoded with ffmpeg's native ``aac`` encoder at 48 kHz, mono or stereo as the
host sends (the TOC stereo bit of its first packet), 64 kbit/s per channel.
Measured 0.025 cores per show (docs/streaming.md), never one per viewer.

Timing: the packager's video timeline counts from the show's first keyframe
(its RTP pts); the host's audio has an unrelated RTP clock. :meth:`AacTrack.add`
places the first Opus frame after a (re)start by its arrival time against a
video frame's (:meth:`AacTrack.reference`) and every later one by its own
48 kHz pts from there, so both tracks share the packager's arrival-to-media
mapping. The encoder's priming frame is the track's first (its input starts
at 1024 samples, 21 ms, so the priming never starts before the show's time 0).
The track stays continuous: a gap in the host's audio is filled
with silence, a frame that overlaps what is already encoded is dropped, and
when the host's audio stops (or lags the video by more than
:data:`MAX_LAG_S`) silence keeps it up with the video, so players never
stall on a missing audio range.
"""

from __future__ import annotations

import fractions
from typing import Any

import av

from streaming.hls.fmp4 import AUDIO_TIMESCALE, AudioConfig, AudioRun

__all__ = ["MAX_LAG_S", "AacTrack", "opus_channels"]

_RATE = AUDIO_TIMESCALE
_TIME_BASE = fractions.Fraction(1, _RATE)
_OPUS_FRAME = 960  # 20 ms, what WebRTC sends
_AAC_FRAME = 1024
#: How far the encoded audio may trail the video before silence fills it.
MAX_LAG_S = 0.5
_BITRATE_PER_CHANNEL = 64_000
#: The first input sample's earliest position: the encoder's priming frame (one AAC
#: frame before it, 21 ms) must not start before the show's time 0.
_FIRST = _AAC_FRAME


def opus_channels(packet: bytes) -> int:
    """1 or 2: the stereo flag of an Opus packet's TOC byte (RFC 6716 §3.1)."""
    return 2 if packet and packet[0] & 0x04 else 1


class AacTrack:
    def __init__(self, channels: int) -> None:
        self.config = AudioConfig(channels=channels)
        layout = "stereo" if channels == 2 else "mono"
        self._layout = layout
        self._decoder: Any = av.CodecContext.create("opus", "r")
        self._decoder.sample_rate = _RATE
        self._decoder.layout = layout
        encoder: Any = av.CodecContext.create("aac", "w")
        encoder.sample_rate = _RATE
        encoder.layout = layout
        encoder.format = "fltp"
        encoder.bit_rate = _BITRATE_PER_CHANNEL * channels
        encoder.time_base = _TIME_BASE
        encoder.thread_count = 1
        encoder.open()
        self._encoder = encoder
        self._resampler: Any = None
        #: The next input sample's position (48 kHz ticks of the show's timeline).
        self.cursor: int | None = None
        self._reference: tuple[int, float] | None = None
        self._anchor: tuple[int, int] | None = None  # (Opus pts, position)
        self._frames: list[bytes] = []
        self._frames_start: int | None = None
        #: Counters: Opus frames encoded, dropped (before an anchor or overlapping),
        #: silent samples inserted.
        self.frames_in = 0
        self.frames_dropped = 0
        self.silence_samples = 0

    # --- timing ---------------------------------------------------------------

    @property
    def needs_reference(self) -> bool:
        return self._reference is None

    def reference(self, position: int, arrived: float) -> None:
        """A video frame at ``position`` (48 kHz ticks of the show) reached the packager
        at ``arrived`` (monotonic): where the next anchor is measured from."""
        if self._reference is None:
            self._reference = (position, arrived)

    def restart(self) -> None:
        """A new publisher: its audio is placed again against its video."""
        self._reference = None
        self._anchor = None

    # --- frames in ---------------------------------------------------------------

    def add(self, data: bytes, pts: int, arrived: float) -> None:
        """One Opus frame (48 kHz RTP pts) that reached the packager at ``arrived``."""
        if self._anchor is None:
            if self._reference is None:
                self.frames_dropped += 1
                return
            ref_position, ref_arrived = self._reference
            self._anchor = (pts, ref_position + round((arrived - ref_arrived) * _RATE))
        anchor_pts, anchor_position = self._anchor
        position = anchor_position + pts - anchor_pts
        if position < _FIRST or (
            self.cursor is not None and position < self.cursor - _OPUS_FRAME // 2
        ):
            self.frames_dropped += 1  # before the track's start, or already covered
            return
        if self.cursor is None:
            self.cursor = position
        elif position > self.cursor + _OPUS_FRAME // 2:
            self._silence(position - self.cursor)
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = _TIME_BASE
        try:
            frames = self._decoder.decode(packet)
        except av.error.FFmpegError:
            self.frames_dropped += 1
            return
        self.frames_in += 1
        for frame in frames:
            self._encode(frame)

    def fill(self, until: int) -> None:
        """The video reached ``until`` (48 kHz ticks): if the audio trails it by more
        than :data:`MAX_LAG_S`, silence brings it to that lag."""
        target = until - round(MAX_LAG_S * _RATE)
        start = self.cursor if self.cursor is not None else _FIRST
        if target - start >= _AAC_FRAME:
            self.cursor = start
            self._silence(target - start)

    def take(self) -> AudioRun | None:
        """The AAC frames encoded since the last call (None if there are none)."""
        if not self._frames or self._frames_start is None:
            return None
        run = AudioRun(self._frames_start, self._frames)
        self._frames_start += _AAC_FRAME * len(self._frames)
        self._frames = []
        return run

    # --- encoding ----------------------------------------------------------------

    def _silence(self, samples: int) -> None:
        self.silence_samples += samples
        while samples > 0:
            n = min(samples, 4800)
            frame = av.AudioFrame(format="fltp", layout=self._layout, samples=n)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate = _RATE
            self._encode(frame)
            samples -= n

    def _encode(self, frame: Any) -> None:
        assert self.cursor is not None
        if frame.format.name != "fltp" or frame.layout.name != self._layout:
            if self._resampler is None:
                self._resampler = av.AudioResampler(format="fltp", layout=self._layout, rate=_RATE)
            frames = self._resampler.resample(frame)
        else:
            frames = [frame]
        for f in frames:
            f.pts = self.cursor
            f.time_base = _TIME_BASE
            self.cursor += f.samples
            for packet in self._encoder.encode(f):
                if self._frames_start is None:
                    # The encoder's first frame is its priming, one frame before the input.
                    self._frames_start = int(packet.pts)
                self._frames.append(bytes(packet))
