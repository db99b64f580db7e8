"""VP8 → H.264, once per show: what an HLS player needs from a VP8 host.

Decodes the relay's VP8 frames and encodes them with libx264 (``ultrafast``,
``zerolatency``: no lookahead, no B-frames, one packet out per frame in). The
encoder keeps the first picture size (a later size is scaled to it), so the
show's init segment stays valid. Runs in a worker thread (:meth:`encode` is
blocking; one thread); one per show, never one per viewer.
"""

from __future__ import annotations

import fractions
from typing import Any

import av
from av.video.frame import PictureType

__all__ = ["Vp8ToH264"]

_TIME_BASE = fractions.Fraction(1, 90_000)


class Vp8ToH264:
    def __init__(self) -> None:
        self._decoder: Any = av.CodecContext.create("vp8", "r")
        self._decoder.thread_count = 1
        self._encoder: Any = None
        self._size: tuple[int, int] | None = None

    def encode(
        self, data: bytes, pts: int, *, force_keyframe: bool
    ) -> list[tuple[bytes, int, bool]]:
        """One VP8 frame in, the H.264 access units out as ``(annexb, pts, keyframe)``."""
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = _TIME_BASE
        out: list[tuple[bytes, int, bool]] = []
        try:
            frames = self._decoder.decode(packet)
        except av.error.InvalidDataError:
            return out  # a frame whose reference was lost: skip it, the next keyframe heals
        for frame in frames:
            if self._encoder is None:
                self._open(frame.width, frame.height)
            assert self._size is not None
            if (frame.width, frame.height) != self._size or frame.format.name != "yuv420p":
                frame = frame.reformat(width=self._size[0], height=self._size[1], format="yuv420p")
            frame.pts = pts
            frame.time_base = _TIME_BASE
            frame.pict_type = PictureType.I if force_keyframe else PictureType.NONE
            for encoded in self._encoder.encode(frame):
                out.append((bytes(encoded), pts, bool(encoded.is_keyframe)))
        return out

    def _open(self, width: int, height: int) -> None:
        encoder: Any = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height = width - width % 2, height - height % 2
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = _TIME_BASE
        encoder.framerate = fractions.Fraction(30, 1)
        # One thread: the show's whole cost is this worker thread's (measurable, and
        # bounded on a node that serves many shows).
        encoder.thread_count = 1
        # Keyframes only when the packager cuts a segment (it forces them).
        encoder.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "crf": "23",
            "x264-params": "keyint=600:min-keyint=1:scenecut=0",
        }
        self._encoder = encoder
        self._size = (encoder.width, encoder.height)

    def close(self) -> None:
        self._encoder = None
        self._decoder = None
