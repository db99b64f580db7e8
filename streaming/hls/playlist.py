"""A show's HLS timeline and the playlists written from it.

:class:`Timeline` is what the packager has made so far: complete segments
(each the concatenation of its parts) and the parts of the segment being
made. :func:`live_playlist` renders the Low-Latency HLS media playlist
(RFC 8216bis: ``EXT-X-PART``, ``EXT-X-PRELOAD-HINT``, ``EXT-X-SERVER-CONTROL``
with blocking reload); :func:`vod_playlist` the one written when the show
ends; :func:`index_document` the JSON index replays and clips use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Part",
    "Segment",
    "Timeline",
    "index_document",
    "live_playlist",
    "part_name",
    "segment_name",
    "vod_playlist",
]

#: Complete segments a live playlist lists (older ones are in the VOD playlist at the end).
LIVE_WINDOW = 6
#: Complete segments whose parts a live playlist still lists (about 3 target durations).
PART_SEGMENTS = 2


def part_name(msn: int, index: int) -> str:
    return f"part{msn}.{index}.m4s"


def segment_name(msn: int) -> str:
    return f"seg{msn}.m4s"


@dataclass(frozen=True, slots=True)
class Part:
    msn: int
    index: int
    duration: float
    independent: bool
    size: int


@dataclass(slots=True)
class Segment:
    msn: int
    #: Seconds (the sum of its parts).
    duration: float
    #: Program date-time of its first frame (unix ms).
    pdt_ms: int
    #: Its first frame's position in the stream (ms since the stream start).
    start_ms: int
    #: Whether it starts with a keyframe (it does unless the host sent none in time).
    independent: bool
    size: int
    parts: list[Part] = field(default_factory=list)


@dataclass(slots=True)
class Timeline:
    part_target: float
    segment_target: float
    segments: list[Segment] = field(default_factory=list)
    #: Parts of the segment being made (its msn is :attr:`next_msn`).
    current: list[Part] = field(default_factory=list)
    current_pdt_ms: int = 0
    next_msn: int = 0
    #: Unix ms of the first frame written (None before it).
    stream_start_ms: int | None = None
    ended: bool = False

    @property
    def target_duration(self) -> int:
        """EXT-X-TARGETDURATION: segments are cut at a keyframe after 3/4 of the target,
        and without one at this bound (so none is longer)."""
        return math.ceil(self.segment_target) + 1

    @property
    def started(self) -> bool:
        return self.stream_start_ms is not None

    def has(self, msn: int, part: int | None) -> bool:
        """Whether a playlist now holds segment ``msn`` (complete) or, with ``part``,
        that part of it (a later segment counts too)."""
        if msn < self.next_msn:
            return True
        if part is None or msn > self.next_msn:
            return False
        return len(self.current) > part

    def duration_ms(self) -> int:
        return round(sum(s.duration for s in self.segments) * 1000)


def _pdt(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _header(timeline: Timeline, *, version: int) -> list[str]:
    return [
        "#EXTM3U",
        f"#EXT-X-VERSION:{version}",
        f"#EXT-X-TARGETDURATION:{timeline.target_duration}",
    ]


def _part_line(part: Part) -> str:
    line = f'#EXT-X-PART:DURATION={part.duration:.5f},URI="{part_name(part.msn, part.index)}"'
    return line + (",INDEPENDENT=YES" if part.independent else "")


def live_playlist(timeline: Timeline) -> str:
    """The live LL-HLS playlist (with ``EXT-X-ENDLIST`` once the show ended)."""
    part_target = timeline.part_target
    lines = _header(timeline, version=9)
    lines += [
        f"#EXT-X-PART-INF:PART-TARGET={part_target:.5f}",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
        f"PART-HOLD-BACK={3 * part_target:.5f},HOLD-BACK={3 * timeline.target_duration}",
    ]
    window = timeline.segments[-LIVE_WINDOW:]
    first = window[0].msn if window else timeline.next_msn
    lines += [f"#EXT-X-MEDIA-SEQUENCE:{first}", '#EXT-X-MAP:URI="init.mp4"']
    with_parts = {s.msn for s in timeline.segments[-PART_SEGMENTS:]}
    for seg in window:
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(seg.pdt_ms)}")
        if seg.msn in with_parts and not timeline.ended:
            lines += [_part_line(p) for p in seg.parts]
        lines += [f"#EXTINF:{seg.duration:.5f},", segment_name(seg.msn)]
    if timeline.ended:
        lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"
    if timeline.current:
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(timeline.current_pdt_ms)}")
        lines += [_part_line(p) for p in timeline.current]
    hint = part_name(timeline.next_msn, len(timeline.current))
    lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{hint}"')
    return "\n".join(lines) + "\n"


def vod_playlist(timeline: Timeline) -> str:
    """The replay's playlist: every segment, ``EXT-X-PLAYLIST-TYPE:VOD``, ``EXT-X-ENDLIST``."""
    lines = _header(timeline, version=7)
    lines += ["#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-MEDIA-SEQUENCE:0"]
    if all(s.independent for s in timeline.segments):
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    lines.append('#EXT-X-MAP:URI="init.mp4"')
    for seg in timeline.segments:
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(seg.pdt_ms)}",
            f"#EXTINF:{seg.duration:.5f},",
            segment_name(seg.msn),
        ]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def index_document(timeline: Timeline, *, session_id: int, codec: str | None) -> dict[str, Any]:
    """``index.json``: the ended show's segments, for replays (chapters) and clips."""
    return {
        "session_id": session_id,
        "stream_start_ms": timeline.stream_start_ms,
        "duration_ms": timeline.duration_ms(),
        "target_duration": timeline.target_duration,
        "codec": codec,
        "init": "init.mp4",
        "segments": [
            {
                "msn": s.msn,
                "uri": segment_name(s.msn),
                "duration_ms": round(s.duration * 1000),
                "pdt_ms": s.pdt_ms,
                "start_ms": s.start_ms,
                "independent": s.independent,
                "bytes": s.size,
            }
            for s in timeline.segments
        ],
    }
