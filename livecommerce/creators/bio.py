"""What the link-in-bio page ``/@<handle>`` shows: read in one go, server-side.

The creator (a host with that handle), the show they are live in now and the product
pinned in it (from the live state in Redis, as viewers see it), their upcoming shows,
their latest ended shows that have a replay (asked of the replay component through
``has_replay``: the media store knows), and their showcase's products still on sale, in
the creator's order (:func:`livecommerce.creators.showcase.items`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce import keys
from livecommerce.catalog.cards import unit_price
from livecommerce.creators.showcase import items as showcase_items
from livecommerce.db.engine import Database
from livecommerce.db.models import (
    LiveSession,
    Product,
    Role,
    SessionStatus,
    User,
    Variant,
)
from livecommerce.pinstate import parse_pin
from livecommerce.redismux import RedisMux

__all__ = ["Bio", "BioProduct", "BioShow", "HasReplay", "load_bio"]

#: At most this many upcoming shows and showcase products on the page.
UPCOMING_LIMIT = 10
SHOWCASE_LIMIT = 60
#: At most this many replays, newest first, from the creator's latest ended shows (one
#: whose media is gone is skipped; only this many ended shows are looked at).
REPLAYS_LIMIT = 4
REPLAY_CANDIDATES = 12

#: Whether an ended show has a replay (``Replays.has_replay``).
HasReplay = Callable[[int], Awaitable[bool]]


@dataclass(frozen=True)
class BioShow:
    id: int
    title: str
    status: str
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class BioProduct:
    id: int
    name: str
    image: str | None
    #: The lowest price of its variants (a flash price while one runs on the pin).
    price_minor: int
    currency: str


@dataclass(frozen=True)
class Bio:
    creator_id: int
    handle: str
    display_name: str
    live: BioShow | None = None
    pinned: BioProduct | None = None
    upcoming: list[BioShow] = field(default_factory=list)
    replays: list[BioShow] = field(default_factory=list)
    showcase: list[BioProduct] = field(default_factory=list)


async def load_bio(
    db: Database,
    mux: RedisMux,
    handle: str,
    *,
    now_ms: int,
    has_replay: HasReplay | None = None,
) -> Bio | None:
    """The page's data for ``handle``, or None if no creator has it. Without
    ``has_replay`` (no replay component) the page lists no replays."""
    async with db.sessions() as session:
        creator = await session.scalar(
            select(User).where(User.handle == handle, User.is_active.is_(True))
        )
        if creator is None or creator.role not in (Role.HOST, Role.ADMIN):
            return None
        shows = list(
            await session.scalars(
                select(LiveSession)
                .where(
                    LiveSession.host_id == creator.id,
                    LiveSession.status.in_([SessionStatus.LIVE, SessionStatus.SCHEDULED]),
                )
                .order_by(LiveSession.scheduled_at, LiveSession.id)
                .limit(UPCOMING_LIMIT + 5)
            )
        )
        live = next((s for s in shows if s.status == SessionStatus.LIVE), None)
        ended = (
            []
            if has_replay is None
            else list(
                await session.scalars(
                    select(LiveSession)
                    .where(
                        LiveSession.host_id == creator.id,
                        LiveSession.status == SessionStatus.ENDED,
                    )
                    .order_by(LiveSession.ended_at.desc(), LiveSession.id.desc())
                    .limit(REPLAY_CANDIDATES)
                )
            )
        )
        # the showcase as its public read gives it (livecommerce.creators.showcase)
        shown = await showcase_items(session, creator.id, active_only=True)
        showcase = await _cards(session, [product for _, product in shown[:SHOWCASE_LIMIT]])
        pinned = None
        if live is not None:
            pin = parse_pin(await mux.execute("GET", keys.session_pin(live.id)))
            if pin is not None:
                product = await session.get(Product, pin.product_id)
                found = await _cards(session, [product] if product else [])
                if found:
                    pinned = found[0]
                    if pin.flash_active(now_ms) and pin.flash_price_minor is not None:
                        pinned = BioProduct(
                            pinned.id,
                            pinned.name,
                            pinned.image,
                            pin.flash_price_minor,
                            pinned.currency,
                        )
    return Bio(
        creator_id=creator.id,
        handle=handle,
        display_name=creator.display_name,
        live=_show(live) if live else None,
        pinned=pinned,
        upcoming=[_show(s) for s in shows if s.status == SessionStatus.SCHEDULED][:UPCOMING_LIMIT],
        replays=await _replays(ended, has_replay),
        showcase=showcase,
    )


def _show(s: LiveSession) -> BioShow:
    return BioShow(s.id, s.title, s.status, s.scheduled_at, s.started_at, s.ended_at)


async def _replays(ended: Sequence[LiveSession], has_replay: HasReplay | None) -> list[BioShow]:
    found: list[BioShow] = []
    for show in ended:
        if len(found) == REPLAYS_LIMIT or has_replay is None:
            break
        if await has_replay(show.id):
            found.append(_show(show))
    return found


async def _cards(session: AsyncSession, products: Sequence[Product]) -> list[BioProduct]:
    if not products:
        return []
    prices: dict[int, int] = {}
    rows = await session.execute(
        select(Variant.product_id, Variant.price_minor).where(
            Variant.product_id.in_([p.id for p in products])
        )
    )
    by_id = {p.id: p for p in products}
    for product_id, variant_price in rows:
        price = unit_price(variant_price, by_id[product_id].price_minor)
        prices[product_id] = min(prices.get(product_id, price), price)
    return [
        BioProduct(
            id=p.id,
            name=p.name,
            image=str(p.images[0]) if p.images else None,
            price_minor=prices.get(p.id, p.price_minor),
            currency=p.currency,
        )
        for p in products
    ]
