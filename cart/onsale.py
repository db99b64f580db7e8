"""Putting products on sale: loading their stock from SQL into Redis.

A product goes on sale when it is pinned or when a session with it in the lineup
goes live; it is also loaded lazily on the first reserve if its keys are missing
(after a Redis restart without persistence). What is loaded is computed from SQL:
``available = stock_total - units in live orders - holds still in Redis``; the
load script only fills variants that are absent, so two processes loading at once
cannot double the stock (I1).
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis
from sqlalchemy import select

from cart.stock import StockStore
from livecommerce import keys
from livecommerce.catalog.stock import DEAD_STATUSES, sql_stock
from livecommerce.db.engine import Database
from livecommerce.db.models import LiveSession, SessionProduct, SessionStatus
from livecommerce.events import (
    LineupChanged,
    ProductPinned,
    SessionStateChanged,
    StockTotalChanging,
)

__all__ = [
    "DEAD_STATUSES",
    "OnSale",
    "sql_stock",
]


class OnSale:
    """Loads products' stock into Redis and tracks which live sessions sell them."""

    def __init__(self, *, db: Database, redis: Redis, stock: StockStore) -> None:
        self.db = db
        self.redis = redis
        self.stock = stock

    async def load(self, product_id: int) -> int:
        """Load (the missing variants of) one product from SQL. Safe to call any time."""
        async with self.db.sessions() as session:
            variants = await sql_stock(session, product_id)
        if not variants:
            return 0
        return await self.stock.load(product_id, variants)

    async def put_on_sale(self, product_ids: Iterable[int], session_id: int | None) -> None:
        """Load products and remember the live session they are sold in (stock events)."""
        for product_id in product_ids:
            await self.load(product_id)
            if session_id is not None:
                await self.redis.sadd(keys.product_sessions(product_id), session_id)

    async def lineup(self, session_id: int) -> list[int]:
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(SessionProduct.product_id).where(SessionProduct.session_id == session_id)
            )
            return [int(p) for p in rows]

    async def is_live(self, session_id: int) -> bool:
        async with self.db.sessions() as session:
            status = await session.scalar(
                select(LiveSession.status).where(LiveSession.id == session_id)
            )
        return status == SessionStatus.LIVE

    # --- event subscribers (subscribed by the cart component) ---

    async def on_pinned(self, event: ProductPinned) -> None:
        await self.put_on_sale([event.pin.product_id], event.session_id)

    async def on_session_state(self, event: SessionStateChanged) -> None:
        session_id, status = event.session_id, event.status
        products = await self.lineup(session_id)
        if status == SessionStatus.LIVE:
            await self.put_on_sale(products, session_id)
        elif status == SessionStatus.ENDED:
            for product_id in products:
                await self.redis.srem(keys.product_sessions(product_id), session_id)

    async def on_lineup(self, event: LineupChanged) -> None:
        if await self.is_live(event.session_id):
            await self.put_on_sale(list(event.product_ids), event.session_id)

    async def on_stock_total(self, event: StockTotalChanging) -> None:
        # Raises Conflict below sold + held: the catalog has not committed yet, so the
        # error rolls the change back. A variant not yet in Redis loads lazily later.
        await self.stock.adjust_total(event.product_id, event.variant_id, event.new_total)
