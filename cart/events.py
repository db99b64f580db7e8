"""``stock`` events: "3 left", coalesced to at most 4 per second per product.

Checkout calls :meth:`StockEvents.touch` after every reserve/confirm/release. A
per-process task publishes, every ``interval_s``, the units left of each touched
product to every live session selling it (plus the sessions named in the touches).
A short Redis lock (SET NX PX ``interval_s``) per product keeps the rate at most
1/interval across processes too; a product whose lock is taken stays dirty and is
published on a later tick, so the last change is never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from redis.asyncio import Redis

from livecommerce import keys
from livecommerce.sessionfeed import publish
from livecommerce.stocklevels import units_left
from livecommerce.streampos import position

__all__ = ["StockEvents"]

log = logging.getLogger("livecommerce.cart")


class StockEvents:
    def __init__(
        self,
        redis: Redis,
        *,
        interval_s: float = 0.25,
        maxlen: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.interval_s = interval_s
        self.maxlen = maxlen
        self._dirty: dict[int, set[int]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def touch(self, product_id: int, session_ids: Iterable[int | None] = ()) -> None:
        sessions = self._dirty.setdefault(product_id, set())
        sessions.update(s for s in session_ids if s is not None)
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stock-events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - events are best effort; never stop the loop
                log.exception("publishing stock events failed")
            await asyncio.sleep(self.interval_s)  # the coalescing window
            if self._dirty:
                self._wake.set()

    async def flush(self) -> None:
        """Publish every dirty product whose rate lock is free (others stay dirty)."""
        dirty, self._dirty = self._dirty, {}
        ms = max(1, int(self.interval_s * 1000))
        for product_id, sessions in dirty.items():
            if not await self.redis.set(keys.product_stock_event(product_id), b"1", nx=True, px=ms):
                self._dirty.setdefault(product_id, set()).update(sessions)
                continue
            variants = await units_left(self.redis, product_id)
            if variants is None:
                continue
            members = await self.redis.smembers(keys.product_sessions(product_id))
            targets = sessions | {int(s) for s in members}
            event = {
                "type": "stock",
                "product_id": product_id,
                "units_left": sum(variants.values()),
                "variants": {str(v): n for v, n in variants.items()},
            }
            now_ms = int(self.clock() * 1000)
            for session_id in sorted(targets):
                at = await position(self.redis, session_id, now_ms)
                await publish(self.redis, session_id, {**event, **at.fields()}, maxlen=self.maxlen)
