"""Where in a show's video an event belongs: its stream position.

Position 0 of a show is the program date-time of the first frame the HLS packager
wrote (``keys.session_stream_start``, unix ms). Until a stream start is known the
positions count from the moment the show went live (``keys.session_live_start``).
Every session event about products (``pinned``, ``unpinned``, ``stock``) carries

* ``pdt_ms``: the wall-clock unix ms the event belongs to (the HLS program date-time
  an HLS player shows the host's picture of that moment at), and
* ``pos_ms``: ``pdt_ms`` minus position 0, never negative,

so an HLS viewer several seconds behind, and a replay, show each card when the host
showed it (docs/protocol.md, "Stream positions").
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from livecommerce import keys

__all__ = ["Position", "mark_live", "position", "stream_base"]


@dataclass(frozen=True)
class Position:
    pos_ms: int
    pdt_ms: int

    def fields(self) -> dict[str, int]:
        """The two fields an event carries."""
        return {"pos_ms": self.pos_ms, "pdt_ms": self.pdt_ms}


def _int(raw: object) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.decode() if isinstance(raw, bytes) else str(raw))
    except ValueError:
        return None


async def stream_base(redis: Redis, session_id: int) -> int | None:
    """Unix ms of position 0 of the show: its stream start, else when it went live,
    else ``None`` (never live, or its Redis state is gone)."""
    stream, live = await redis.mget(
        [keys.session_stream_start(session_id), keys.session_live_start(session_id)]
    )
    found = _int(stream)
    return found if found is not None else _int(live)


async def position(
    redis: Redis, session_id: int, at_ms: int, *, started_ms: int | None = None
) -> Position:
    """The position of the moment ``at_ms`` in the show. ``started_ms``: when the show
    went live, if the caller knows it (used when Redis knows no start)."""
    base = await stream_base(redis, session_id)
    if base is None:
        base = started_ms if started_ms is not None else at_ms
    return Position(pos_ms=max(0, at_ms - base), pdt_ms=at_ms)


async def mark_live(redis: Redis, session_id: int, at_ms: int) -> None:
    """Remember when the show went live (the first call wins)."""
    await redis.set(keys.session_live_start(session_id), at_ms, nx=True)
