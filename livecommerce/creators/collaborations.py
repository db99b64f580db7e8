"""Open and targeted collaborations: what a brand offers creators, and the rate lock.

A brand **opens** a product to every creator at a rate, or **offers** chosen creators a
higher one (the creator accepts or declines). Rates are bounded (:class:`RateRules`,
from the settings). The **rate lock**: a change that lowers what creators earn — a cut,
closing the collaboration, withdrawing an accepted offer — applies only to attributions
that begin ``lock`` after the brand made it; a raise applies at once. The open rate's
history (``CollabRate`` rows, each with its ``effective_from``) is what
:func:`livecommerce.creators.rates.commission_rates` reads; the ``Collaboration`` row is
its present (rate in force, scheduled cut) for the marketplace's indexes, brought up to
date by :func:`roll_due` before it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.creators.rates import open_rates_at
from livecommerce.db.models import (
    CollabOffer,
    Collaboration,
    CollabRate,
    Product,
    Role,
    User,
)
from livecommerce.errors import Conflict, Forbidden, NotFound, ValidationFailed
from livecommerce.settings import Settings

__all__ = [
    "RateRules",
    "close_open_rate",
    "field_error",
    "get_offer",
    "make_offer",
    "offers_of_brand",
    "offers_of_creator",
    "respond",
    "roll_due",
    "set_open_rate",
    "withdraw",
]


@dataclass(frozen=True)
class RateRules:
    """The bounds of a rate and the lock on cuts."""

    min_bps: int = 100
    max_bps: int = 8000
    lock: timedelta = timedelta(days=30)

    @classmethod
    def of(cls, settings: Settings) -> RateRules:
        return cls(
            min_bps=settings.collab_min_rate_bps,
            max_bps=settings.collab_max_rate_bps,
            lock=timedelta(days=settings.collab_rate_lock_days),
        )

    def check(self, rate_bps: int) -> None:
        """422 naming ``rate_bps`` when it is outside the range."""
        if not self.min_bps <= rate_bps <= self.max_bps:
            raise field_error(
                "rate_bps",
                f"must be between {self.min_bps} and {self.max_bps} basis points",
                "rate_out_of_range",
            )


def field_error(field: str, message: str, kind: str) -> ValidationFailed:
    """A 422 naming the body field it is about (``errors[].loc``), as the validator's are."""
    return ValidationFailed(
        f"{field}: {message}", errors=[{"loc": ["body", field], "msg": message, "type": kind}]
    )


async def roll_due(db: AsyncSession, now: datetime) -> None:
    """Apply the scheduled cuts whose time has come to the ``Collaboration`` rows (the
    history already says so; this keeps the marketplace's indexed copy true). Cheap when
    nothing is due: one indexed look-up."""
    due = (await db.scalars(select(Collaboration).where(Collaboration.pending_from <= now))).all()
    for collab in due:
        if collab.pending_rate_bps:
            collab.rate_bps = collab.pending_rate_bps
            collab.pending_rate_bps = collab.pending_from = None
        else:
            await db.delete(collab)
    if due:
        await db.commit()


async def _rewrite_future(
    db: AsyncSession, product_id: int, rate: int | None, *, now: datetime, effective: datetime
) -> None:
    # The latest decision replaces any change still waiting for its time.
    await db.execute(
        delete(CollabRate).where(
            CollabRate.product_id == product_id, CollabRate.effective_from > now
        )
    )
    db.add(CollabRate(product_id=product_id, rate_bps=rate, effective_from=effective))


async def set_open_rate(
    db: AsyncSession, product: Product, rate_bps: int, *, now: datetime, rules: RateRules
) -> Collaboration:
    """Open ``product`` to all creators at ``rate_bps``, or change its rate: a raise (or
    an opening) from ``now``, a cut from ``now + lock``. Commits."""
    rules.check(rate_bps)
    if not product.is_active:
        raise field_error("product_id", "the product is no longer sold", "inactive_product")
    current = (await open_rates_at(db, [product.id], now)).get(product.id)
    cut = current is not None and rate_bps < current
    effective = now + rules.lock if cut else now
    await _rewrite_future(db, product.id, rate_bps, now=now, effective=effective)
    collab = await db.get(Collaboration, product.id)
    if collab is None:
        collab = Collaboration(product_id=product.id, brand_id=product.brand_id, rate_bps=rate_bps)
        db.add(collab)
    if cut:
        collab.pending_rate_bps, collab.pending_from = rate_bps, effective
    else:
        collab.rate_bps = rate_bps
        collab.pending_rate_bps = collab.pending_from = None
    await db.commit()
    return collab


async def close_open_rate(
    db: AsyncSession, product: Product, *, now: datetime, rules: RateRules
) -> Collaboration:
    """Close the product's open collaboration from ``now + lock`` (404 if not open)."""
    collab = await db.get(Collaboration, product.id)
    current = (await open_rates_at(db, [product.id], now)).get(product.id)
    if collab is None or current is None:
        raise NotFound(f"product {product.id} has no open collaboration")
    effective = now + rules.lock
    await _rewrite_future(db, product.id, None, now=now, effective=effective)
    collab.pending_rate_bps, collab.pending_from = 0, effective
    await db.commit()
    return collab


async def make_offer(
    db: AsyncSession,
    product: Product,
    creator_id: int,
    rate_bps: int,
    *,
    now: datetime,
    rules: RateRules,
) -> CollabOffer:
    """Offer ``creator_id`` ``rate_bps`` on ``product``: above the open rate now, to a
    creator (role ``host``). Commits."""
    rules.check(rate_bps)
    if not product.is_active:
        raise field_error("product_id", "the product is no longer sold", "inactive_product")
    creator = await db.get(User, creator_id)
    if creator is None or creator.role != Role.HOST or not creator.is_active:
        raise field_error("creator_id", "is not a creator (a user with role host)", "not_a_creator")
    current = (await open_rates_at(db, [product.id], now)).get(product.id)
    if current is not None and rate_bps <= current:
        raise field_error(
            "rate_bps", f"must be higher than the open rate ({current})", "rate_not_higher"
        )
    offer = CollabOffer(
        product_id=product.id,
        brand_id=product.brand_id,
        creator_id=creator_id,
        rate_bps=rate_bps,
        status="offered",
        created_at=now,
    )
    db.add(offer)
    await db.commit()
    return offer


async def get_offer(db: AsyncSession, offer_id: int) -> CollabOffer:
    offer = await db.get(CollabOffer, offer_id)
    if offer is None:
        raise NotFound(f"offer {offer_id} does not exist")
    return offer


async def respond(
    db: AsyncSession, offer: CollabOffer, creator_id: int, *, accept: bool, now: datetime
) -> CollabOffer:
    """The creator accepts or declines an offer made to them (404 for anyone else's,
    409 once answered). Commits."""
    if offer.creator_id != creator_id:
        raise NotFound(f"offer {offer.id} does not exist")
    if offer.status != "offered":
        raise Conflict(f"offer {offer.id} is {offer.status}", code="offer_answered")
    offer.status = "accepted" if accept else "declined"
    offer.responded_at = now
    await db.commit()
    return offer


async def withdraw(
    db: AsyncSession, offer: CollabOffer, brand_id: int | None, *, now: datetime, rules: RateRules
) -> CollabOffer:
    """The brand withdraws an offer: at once if it was not accepted yet, from
    ``now + lock`` if it was. ``brand_id`` None: an admin. Commits."""
    if brand_id is not None and offer.brand_id != brand_id:
        raise Forbidden("you can only withdraw your own brand's offers")
    if offer.status not in ("offered", "accepted"):
        raise Conflict(f"offer {offer.id} is {offer.status}", code="offer_answered")
    offer.ends_at = now + rules.lock if offer.status == "accepted" else now
    offer.status = "withdrawn"
    await db.commit()
    return offer


async def offers_of_creator(
    db: AsyncSession, creator_id: int, statuses: Sequence[str]
) -> list[tuple[CollabOffer, Product]]:
    rows = await db.execute(
        select(CollabOffer, Product)
        .join(Product, Product.id == CollabOffer.product_id)
        .where(CollabOffer.creator_id == creator_id, CollabOffer.status.in_(statuses))
        .order_by(CollabOffer.id.desc())
        .limit(500)
    )
    return [(o, p) for o, p in rows]


async def offers_of_brand(
    db: AsyncSession, brand_id: int, statuses: Sequence[str]
) -> list[tuple[CollabOffer, Product]]:
    rows = await db.execute(
        select(CollabOffer, Product)
        .join(Product, Product.id == CollabOffer.product_id)
        .where(CollabOffer.brand_id == brand_id, CollabOffer.status.in_(statuses))
        .order_by(CollabOffer.id.desc())
        .limit(500)
    )
    return [(o, p) for o, p in rows]
