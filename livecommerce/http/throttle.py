"""Sliding-window throttles in Redis: sign-in per account and per client address,
sign-up per client address.

One Lua script keeps a window as a sorted set of attempts (score: unix ms). An
attempt is admitted and recorded only while fewer than ``attempts`` lie within the
window; a refused attempt is not recorded, so a lock ends ``window`` after the oldest
counted attempt however often it is retried: an owner is never locked out for good.
A caller may give an admitted attempt back (a successful sign-in does), so what stays
counted are failures and attempts in flight.

The script touches one key per call (Redis Cluster: no two keys in one slot are
promised), so several windows are checked by several calls sent together; if any
refuses, the attempts the others recorded are given back.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from livecommerce.errors import TooManyRequests
from livecommerce.lua import script
from livecommerce.redismux import RedisMux

__all__ = ["Admission", "Window", "admit"]

_SLIDING_WINDOW = script(
    "livecommerce.http.sliding_window",
    """
-- KEYS[1]: the window (sorted set attempt id -> unix ms)
-- ARGV: now (ms), window (ms), attempts allowed, this attempt's id
-- Returns 0 when admitted (and recorded), else the ms until the oldest attempt leaves.
local now, window, allowed = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= allowed then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
""",
)


@dataclass(frozen=True)
class Window:
    """At most ``attempts`` within ``seconds`` on ``key`` (from :mod:`livecommerce.keys`)."""

    key: str
    attempts: int
    seconds: float


class Admission:
    """The attempts one request recorded; :meth:`release` gives them back."""

    def __init__(self, mux: RedisMux, keys: Sequence[str], member: str) -> None:
        self._mux = mux
        self._keys = list(keys)
        self._member = member

    async def release(self) -> None:
        keys, self._keys = self._keys, []
        await asyncio.gather(*(self._mux.execute("ZREM", key, self._member) for key in keys))


async def admit(mux: RedisMux, windows: Sequence[Window], *, now_ms: int) -> Admission:
    """Record one attempt in every window, or raise :class:`TooManyRequests` (429, with
    ``Retry-After``) recording none if any window is full."""
    member = uuid.uuid4().hex
    waits = await asyncio.gather(
        *(
            _SLIDING_WINDOW.run(mux, [w.key], [now_ms, int(w.seconds * 1000), w.attempts, member])
            for w in windows
        )
    )
    admitted = [w.key for w, wait in zip(windows, waits, strict=True) if int(wait) == 0]
    admission = Admission(mux, admitted, member)
    if len(admitted) == len(windows):
        return admission
    await admission.release()
    retry_after = max(1, math.ceil(max(int(w) for w in waits) / 1000))
    error = TooManyRequests(
        f"too many attempts; try again in {retry_after} s", retry_after=retry_after
    )
    error.headers = {"Retry-After": str(retry_after)}
    raise error
