"""A replay's timeline, without I/O: chapters from pins, highlight clips from buys.

The HLS packager leaves an ended show's ``index.json`` (:class:`Index`): every
segment with its duration and program date-time. A moment of the show (unix ms,
the ``pdt_ms`` of its events) maps to a playhead time of the replay through the
segment that holds it (:meth:`Index.media_ms`), so chapters start where the host
showed the product, whatever the gaps in the stream. Clips are whole segments
(each starts with a keyframe), so a clip playlist references the replay's own
segments: nothing is encoded again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Buy",
    "Chapter",
    "Clip",
    "Index",
    "PinSpan",
    "Segment",
    "Tap",
    "chapters",
    "clip_playlist",
    "pick_clips",
]

#: Buys are counted per window of the replay this long; the best windows become clips.
MOMENT_MS = 10_000
#: A clip starts this long before its window (the pitch before the buys) ...
LEAD_MS = 10_000
#: ... and ends this long after it.
TAIL_MS = 5_000
#: A unit bought counts as this many card taps when moments are ranked.
BUY_WEIGHT = 5


@dataclass(frozen=True)
class Segment:
    msn: int
    uri: str
    duration_ms: int
    pdt_ms: int
    independent: bool
    #: Playhead time of its first frame in the replay (the durations before it).
    media_ms: int


@dataclass(frozen=True)
class Index:
    """An ended show's ``index.json`` (written by the HLS packager)."""

    stream_start_ms: int
    target_duration: int
    segments: tuple[Segment, ...]

    @property
    def duration_ms(self) -> int:
        last = self.segments[-1] if self.segments else None
        return 0 if last is None else last.media_ms + last.duration_ms

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Index:
        """From the JSON document; ``ValueError`` if it is not one."""
        try:
            media = 0
            segments = []
            for s in doc["segments"]:
                seg = Segment(
                    msn=int(s["msn"]),
                    uri=str(s["uri"]),
                    duration_ms=int(s["duration_ms"]),
                    pdt_ms=int(s["pdt_ms"]),
                    independent=bool(s.get("independent", True)),
                    media_ms=media,
                )
                media += seg.duration_ms
                segments.append(seg)
            start = doc.get("stream_start_ms")
            return cls(
                stream_start_ms=int(start if start is not None else segments[0].pdt_ms),
                target_duration=int(doc.get("target_duration") or 1),
                segments=tuple(segments),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"not a replay index: {exc!r}") from exc

    def media_ms(self, at_ms: int) -> int:
        """The replay's playhead time (ms) of the wall-clock moment ``at_ms``: within the
        segment that holds it; before the first, 0; after the last, the end."""
        found = None
        for seg in self.segments:
            if seg.pdt_ms > at_ms:
                break
            found = seg
        if found is None:
            return 0
        return found.media_ms + min(max(0, at_ms - found.pdt_ms), found.duration_ms)

    def segment_at(self, media_ms: int) -> int:
        """Index of the segment playing at ``media_ms`` (clamped to the ends)."""
        for i, seg in enumerate(self.segments):
            if media_ms < seg.media_ms + seg.duration_ms:
                return i
        return len(self.segments) - 1


@dataclass(frozen=True)
class PinSpan:
    """One pin of the show's history (unix ms)."""

    product_id: int
    pinned_ms: int
    unpinned_ms: int | None


@dataclass(frozen=True)
class Chapter:
    product_id: int
    start_ms: int
    end_ms: int


def chapters(pins: Iterable[PinSpan], index: Index, *, ended_ms: int | None) -> list[Chapter]:
    """One chapter per pin that shows in the replay, in pin order: from its pin to its
    unpin (or the end of the show), as playhead times."""
    out = []
    for pin in pins:
        end_at = pin.unpinned_ms if pin.unpinned_ms is not None else ended_ms
        start = index.media_ms(pin.pinned_ms)
        end = index.duration_ms if end_at is None else index.media_ms(end_at)
        if end > start:
            out.append(Chapter(pin.product_id, start, end))
    return out


@dataclass(frozen=True)
class Buy:
    """One order line of the show: when (unix ms), what, how many."""

    at_ms: int
    product_id: int
    quantity: int


@dataclass(frozen=True)
class Tap:
    """Taps on a product's card (Buy, Add to cart) in one second (unix ms)."""

    at_ms: int
    product_id: int
    count: int


@dataclass
class Clip:
    id: str
    product_id: int
    buys: int
    start_ms: int
    end_ms: int
    #: The replay's segments it plays (msn), in order.
    msns: list[int] = field(default_factory=list)
    taps: int = 0

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "product_id": self.product_id,
            "buys": self.buys,
            "taps": self.taps,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "msns": self.msns,
        }

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Clip:
        return cls(
            id=str(doc["id"]),
            product_id=int(doc["product_id"]),
            buys=int(doc["buys"]),
            start_ms=int(doc["start_ms"]),
            end_ms=int(doc["end_ms"]),
            msns=[int(m) for m in doc["msns"]],
            taps=int(doc.get("taps", 0)),
        )


def pick_clips(
    buys: Sequence[Buy], index: Index, count: int, taps: Sequence[Tap] = ()
) -> list[Clip]:
    """The ``count`` windows of :data:`MOMENT_MS` with the highest score — units bought
    × :data:`BUY_WEIGHT` plus card taps — (earlier first on a tie), each widened by
    :data:`LEAD_MS`/:data:`TAIL_MS` to whole segments starting at a keyframe; clips never
    overlap. Sorted by start."""
    if not index.segments or count <= 0:
        return []
    units: Counter[int] = Counter()
    tapped: Counter[int] = Counter()
    score: Counter[int] = Counter()
    products: dict[int, Counter[int]] = {}
    for buy in buys:
        window = index.media_ms(buy.at_ms) // MOMENT_MS
        units[window] += buy.quantity
        score[window] += buy.quantity * BUY_WEIGHT
        products.setdefault(window, Counter())[buy.product_id] += buy.quantity * BUY_WEIGHT
    for tap in taps:
        window = index.media_ms(tap.at_ms) // MOMENT_MS
        tapped[window] += tap.count
        score[window] += tap.count
        products.setdefault(window, Counter())[tap.product_id] += tap.count
    ranked = sorted(score, key=lambda w: (-score[w], w))
    taken: list[Clip] = []
    for window in ranked:
        if len(taken) == count:
            break
        first = index.segment_at(max(0, window * MOMENT_MS - LEAD_MS))
        while first > 0 and not index.segments[first].independent:
            first -= 1
        last = index.segment_at((window + 1) * MOMENT_MS + TAIL_MS - 1)
        segs = index.segments[first : last + 1]
        start, end = segs[0].media_ms, segs[-1].media_ms + segs[-1].duration_ms
        if any(start < c.end_ms and c.start_ms < end for c in taken):
            continue
        product = min(products[window].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        taken.append(
            Clip(
                id=f"c{segs[0].msn}",
                product_id=product,
                buys=units[window],
                start_ms=start,
                end_ms=end,
                msns=[s.msn for s in segs],
                taps=tapped[window],
            )
        )
    return sorted(taken, key=lambda c: c.start_ms)


def _pdt(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def clip_playlist(clip: Clip, index: Index, *, base: str) -> str:
    """The clip's VOD playlist: the replay's init segment and its own segments, by URL
    under ``base`` (``/hls/<id>/``)."""
    by_msn = {s.msn: s for s in index.segments}
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{index.target_duration}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXT-X-MEDIA-SEQUENCE:{clip.msns[0] if clip.msns else 0}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f'#EXT-X-MAP:URI="{base}init.mp4"',
    ]
    for msn in clip.msns:
        seg = by_msn.get(msn)
        if seg is None:
            continue
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(seg.pdt_ms)}",
            f"#EXTINF:{seg.duration_ms / 1000:.5f},",
            f"{base}{seg.uri}",
        ]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
