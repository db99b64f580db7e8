"""The commission rate a creator earns on a product: the one rule, called by the cart.

:func:`commission_rates` answers, for one creator and some products, the rate in
basis points in force at ``attributed_at`` (the show's start, or the link click).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.db.models import Product

__all__ = ["commission_rates"]


async def commission_rates(
    db: AsyncSession,
    *,
    creator_id: int,
    product_ids: Sequence[int],
    attributed_at: datetime,
) -> dict[int, int]:
    """Basis points per product id for ``creator_id``, as in force at ``attributed_at``.

    A product id that does not exist is absent from the answer."""
    if not product_ids:
        return {}
    rows = await db.execute(
        select(Product.id, Product.commission_bps).where(Product.id.in_(set(product_ids)))
    )
    return {pid: bps for pid, bps in rows.tuples()}
