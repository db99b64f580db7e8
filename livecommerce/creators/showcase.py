"""A creator's showcase: products open to them, in the order they choose.

Anyone reads a creator's showcase (the link-in-bio page shows it); only the creator (or
an admin acting as them) changes it, and only with products open to them
(:func:`open_to`: an open collaboration or an accepted offer in force now).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.creators.collaborations import field_error
from livecommerce.creators.rates import offer_rates_at, open_rates_at
from livecommerce.db.models import Product, Role, ShowcaseItem, User
from livecommerce.errors import Conflict, NotFound

__all__ = ["add", "creator_exists", "items", "open_to", "remove", "reorder"]

#: Products one showcase may hold.
MAX_ITEMS = 200


async def open_to(
    db: AsyncSession, creator_id: int, product_ids: Iterable[int], now: datetime
) -> dict[int, int]:
    """The rate ``creator_id`` earns now on each of ``product_ids`` open to them."""
    ids = set(product_ids)
    rates = await open_rates_at(db, ids, now)
    for pid, rate in (await offer_rates_at(db, creator_id, ids, now)).items():
        rates[pid] = max(rate, rates.get(pid, 0))
    return rates


async def creator_exists(db: AsyncSession, creator_id: int) -> None:
    """404 unless ``creator_id`` is a creator (an active user with role host)."""
    user = await db.get(User, creator_id)
    if user is None or user.role != Role.HOST or not user.is_active:
        raise NotFound(f"no creator with id {creator_id}")


async def items(
    db: AsyncSession, creator_id: int, *, active_only: bool
) -> list[tuple[ShowcaseItem, Product]]:
    """The showcase in its order (``active_only``: products still sold)."""
    query = (
        select(ShowcaseItem, Product)
        .join(Product, Product.id == ShowcaseItem.product_id)
        .where(ShowcaseItem.creator_id == creator_id)
        .order_by(ShowcaseItem.position, ShowcaseItem.id)
    )
    if active_only:
        query = query.where(Product.is_active.is_(True))
    rows = await db.execute(query)
    return [(item, product) for item, product in rows]


async def add(db: AsyncSession, creator_id: int, product_id: int, *, now: datetime) -> None:
    """Put a product open to the creator at the end of their showcase. Commits."""
    product = await db.get(Product, product_id)
    if product is None or not product.is_active:
        raise field_error("product_id", "no such product on sale", "unknown_product")
    if product_id not in await open_to(db, creator_id, [product_id], now):
        raise field_error(
            "product_id", "is not open to you (no open collaboration or offer)", "not_open"
        )
    count, last = (
        await db.execute(
            select(func.count(), func.max(ShowcaseItem.position)).where(
                ShowcaseItem.creator_id == creator_id
            )
        )
    ).one()
    if count >= MAX_ITEMS:
        raise Conflict(f"a showcase holds at most {MAX_ITEMS} products", code="showcase_full")
    db.add(ShowcaseItem(creator_id=creator_id, product_id=product_id, position=(last or 0) + 1))
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise Conflict(
            f"product {product_id} is already in your showcase", code="already_in_showcase"
        ) from None


async def remove(db: AsyncSession, creator_id: int, product_id: int) -> None:
    """Take a product out of the creator's showcase (404 if it is not in it). Commits."""
    item = await db.scalar(
        select(ShowcaseItem).where(
            ShowcaseItem.creator_id == creator_id, ShowcaseItem.product_id == product_id
        )
    )
    if item is None:
        raise NotFound(f"product {product_id} is not in your showcase")
    await db.delete(item)
    await db.commit()


async def reorder(db: AsyncSession, creator_id: int, product_ids: Sequence[int]) -> None:
    """Give the showcase this order: exactly the products it holds. Commits."""
    current = {i.product_id: i for i, _ in await items(db, creator_id, active_only=False)}
    if len(product_ids) != len(set(product_ids)) or set(product_ids) != set(current):
        raise field_error(
            "product_ids",
            "must list each product of your showcase exactly once",
            "not_the_showcase",
        )
    for position, pid in enumerate(product_ids, start=1):
        current[pid].position = position
    await db.commit()
