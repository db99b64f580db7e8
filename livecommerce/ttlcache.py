"""A per-process cache of slow reads (SQL), each value kept a fixed number of seconds.

Single flight: concurrent misses on one key share one load instead of a stampede
(a flash sale reads the same product thousands of times a second). A failed load
is not cached. Past ``max_entries`` the cache is emptied: a crude bound, but the
caches hold products or sessions live right now, far fewer than the cap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """``load(key)`` results, each kept ``ttl_s`` seconds (by ``clock``)."""

    def __init__(
        self,
        load: Callable[[K], Awaitable[V]],
        *,
        ttl_s: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.load = load
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[K, tuple[float, asyncio.Future[V]]] = {}

    async def get(self, key: K) -> V:
        now = self.clock()
        cached = self._entries.get(key)
        if cached is None or cached[0] < now:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            future: asyncio.Future[V] = asyncio.ensure_future(self.load(key))
            cached = (now + self.ttl_s, future)
            self._entries[key] = cached
            future.add_done_callback(
                lambda f: self._drop(key, f) if f.cancelled() or f.exception() else None
            )
        return await asyncio.shield(cached[1])

    def _drop(self, key: K, future: asyncio.Future[V]) -> None:
        cached = self._entries.get(key)
        if cached is not None and cached[1] is future:
            del self._entries[key]

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
