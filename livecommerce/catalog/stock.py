"""A product's stock as SQL records it, and the units left a shopper is shown.

``sql_stock`` is what the cart loads into Redis when a product goes on sale
(:mod:`cart.onsale`) and what ``reconcile`` checks Redis against; ``available``
answers "how many are left" for any product: the cart's Redis counters while it
is on sale (:mod:`livecommerce.stocklevels`, the one reader of those), else the
same figure the cart would load from SQL.
"""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce import stocklevels
from livecommerce.db.models import Order, OrderItem, OrderStatus, Variant

__all__ = ["DEAD_STATUSES", "available", "sql_stock"]

#: Orders in these states no longer hold stock.
DEAD_STATUSES = (OrderStatus.CANCELLED.value, OrderStatus.REFUNDED.value)


async def sql_stock(db: AsyncSession, product_id: int) -> dict[int, tuple[int, int]]:
    """Variant id -> (stock_total, units in orders that are not cancelled/refunded)."""
    totals = {
        v: t
        for v, t in await db.execute(
            select(Variant.id, Variant.stock_total).where(Variant.product_id == product_id)
        )
    }
    sold_rows = await db.execute(
        select(OrderItem.variant_id, func.sum(OrderItem.quantity))
        .join(Order, Order.id == OrderItem.order_id)
        .where(OrderItem.product_id == product_id, Order.status.not_in(DEAD_STATUSES))
        .group_by(OrderItem.variant_id)
    )
    sold = {int(v): int(q or 0) for v, q in sold_rows}
    return {int(v): (int(t), sold.get(int(v), 0)) for v, t in totals.items()}


async def available(db: AsyncSession, redis: Redis, product_id: int) -> tuple[dict[int, int], bool]:
    """Variant id -> units left, and whether the figure is the on-sale one from Redis.
    A product not on sale shows ``stock_total - units in live orders`` (no holds exist
    for it); variants Redis does not know yet (added since it went on sale) likewise."""
    on_sale = await stocklevels.units_left(redis, product_id)
    from_sql = {
        v: max(0, total - sold) for v, (total, sold) in (await sql_stock(db, product_id)).items()
    }
    if on_sale is None:
        return from_sql, False
    return {v: on_sale.get(v, left) for v, left in from_sql.items()}, True
