"""Sales of a live session from SQL (the record of orders), cached about a second.

Dashboards refresh every second for every watching moderator; the SQL runs at
most once per ``ttl_s`` per session per process, however many ask, and
concurrent askers share one query.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, distinct, func, select

from livecommerce.db.engine import Database
from livecommerce.db.models import Order, OrderItem, OrderStatus, Product, SessionProduct

__all__ = ["CONFIRMED", "SalesCache", "SessionSales", "load_sales"]

#: Orders that count as sold (confirmed to the buyer and not undone).
CONFIRMED = (OrderStatus.PAID.value, OrderStatus.FULFILLED.value)


@dataclass(frozen=True)
class SessionSales:
    orders: int = 0
    buyers: int = 0
    orders_last_min: int = 0
    currency: str | None = None
    #: product id → (units sold, GMV minor units)
    by_product: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: The lineup in order, then other products sold: (product id, name).
    products: list[tuple[int, str]] = field(default_factory=list)

    @property
    def units_sold(self) -> int:
        return sum(u for u, _ in self.by_product.values())

    @property
    def gmv_minor(self) -> int:
        return sum(g for _, g in self.by_product.values())


async def load_sales(db: Database, session_id: int, *, now: datetime) -> SessionSales:
    """Three small indexed queries: order totals, per-product sums, the lineup."""
    minute_ago = now - timedelta(seconds=60)
    async with db.sessions() as session:
        head = (
            await session.execute(
                select(
                    func.count(Order.id),
                    func.count(distinct(Order.user_id)),
                    func.coalesce(func.sum(case((Order.created_at >= minute_ago, 1), else_=0)), 0),
                    func.max(Order.currency),
                ).where(Order.session_id == session_id, Order.status.in_(CONFIRMED))
            )
        ).one()
        rows = await session.execute(
            select(
                OrderItem.product_id,
                func.sum(OrderItem.quantity),
                func.sum(OrderItem.quantity * OrderItem.unit_price_minor),
            )
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.session_id == session_id, Order.status.in_(CONFIRMED))
            .group_by(OrderItem.product_id)
        )
        by_product = {int(p): (int(u or 0), int(g or 0)) for p, u, g in rows}
        lineup = list(
            await session.execute(
                select(Product.id, Product.name)
                .join(SessionProduct, SessionProduct.product_id == Product.id)
                .where(SessionProduct.session_id == session_id)
                .order_by(SessionProduct.position)
            )
        )
        products = [(int(p), str(n)) for p, n in lineup]
        extra = [p for p in by_product if p not in {pid for pid, _ in products}]
        if extra:
            names = await session.execute(
                select(Product.id, Product.name).where(Product.id.in_(extra))
            )
            products += [(int(p), str(n)) for p, n in names]
    return SessionSales(
        orders=int(head[0]),
        buyers=int(head[1]),
        orders_last_min=int(head[2]),
        currency=head[3],
        by_product=by_product,
        products=products,
    )


class SalesCache:
    """:func:`load_sales` per session, reused for ``ttl_s``."""

    def __init__(self, db: Database, *, ttl_s: float = 1.0, max_entries: int = 10_000) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cache: dict[int, tuple[float, SessionSales]] = {}
        self._loading: dict[int, asyncio.Task[SessionSales]] = {}

    async def get(self, session_id: int, *, now: datetime) -> SessionSales:
        hit = self._cache.get(session_id)
        mono = time.monotonic()
        if hit is not None and hit[0] > mono:
            return hit[1]
        task = self._loading.get(session_id)
        if task is None:
            task = asyncio.create_task(load_sales(self.db, session_id, now=now))
            self._loading[session_id] = task
            task.add_done_callback(lambda _: self._loading.pop(session_id, None))
        sales = await asyncio.shield(task)
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[session_id] = (time.monotonic() + self.ttl_s, sales)
        return sales
