"""The commission rate a creator earns on a product: the one rule, called by the cart.

:func:`commission_rates` answers, for one creator and some products, the rate in basis
points in force at ``attributed_at`` (the show's start, or the link's click):

* the highest of the creator's accepted targeted offer and the product's open
  collaboration, as each stood at ``attributed_at``;
* with neither, the product's own ``commission_bps``.

The rate lock is in the history, not here: a cut is written to apply from the moment the
lock ends (:mod:`livecommerce.creators.collaborations`), so "the rate in force at
``attributed_at``" already keeps the old rate for attributions that began before then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.db.models import CollabOffer, CollabRate, Product

__all__ = ["OFFER_APPLIES", "commission_rates", "offer_rates_at", "open_rates_at"]

#: Statuses of an offer the creator accepted (a withdrawn one applies until its end).
OFFER_APPLIES = ("accepted", "withdrawn")


async def open_rates_at(
    db: AsyncSession, product_ids: Iterable[int], at: datetime
) -> dict[int, int]:
    """The open collaboration rate in force at ``at`` per product; products whose
    collaboration was closed (or never open) at ``at`` are absent."""
    ids = set(product_ids)
    if not ids:
        return {}
    rows = await db.execute(
        select(CollabRate.product_id, CollabRate.rate_bps)
        .where(CollabRate.product_id.in_(ids), CollabRate.effective_from <= at)
        .order_by(CollabRate.product_id, CollabRate.effective_from, CollabRate.id)
    )
    latest: dict[int, int | None] = {}
    for product_id, rate in rows:
        latest[product_id] = rate
    return {pid: rate for pid, rate in latest.items() if rate is not None}


async def offer_rates_at(
    db: AsyncSession, creator_id: int, product_ids: Iterable[int] | None, at: datetime
) -> dict[int, int]:
    """The best targeted offer ``creator_id`` had accepted by ``at`` and that had not
    ended by then, per product (of ``product_ids``; None: of every product)."""
    only: list[Any] = []
    if product_ids is not None:
        ids = set(product_ids)
        if not ids:
            return {}
        only.append(CollabOffer.product_id.in_(ids))
    rows = await db.execute(
        select(CollabOffer.product_id, CollabOffer.rate_bps).where(
            CollabOffer.creator_id == creator_id,
            *only,
            CollabOffer.status.in_(OFFER_APPLIES),
            CollabOffer.responded_at <= at,
            or_(CollabOffer.ends_at.is_(None), CollabOffer.ends_at > at),
        )
    )
    best: dict[int, int] = {}
    for product_id, rate in rows:
        best[product_id] = max(rate, best.get(product_id, 0))
    return best


async def commission_rates(
    db: AsyncSession,
    *,
    creator_id: int,
    product_ids: Sequence[int],
    attributed_at: datetime,
) -> dict[int, int]:
    """Basis points per product id for ``creator_id``, as in force at ``attributed_at``
    (an aware datetime). A product id that does not exist is absent from the answer."""
    if not product_ids:
        return {}
    ids = set(product_ids)
    rows = await db.execute(select(Product.id, Product.commission_bps).where(Product.id.in_(ids)))
    own: dict[int, int] = {pid: bps for pid, bps in rows}
    open_rates = await open_rates_at(db, own, attributed_at)
    offers = await offer_rates_at(db, creator_id, own, attributed_at)
    rates: dict[int, int] = {}
    for product_id, product_bps in own.items():
        found = [r for r in (open_rates.get(product_id), offers.get(product_id)) if r is not None]
        rates[product_id] = max(found) if found else product_bps
    return rates
