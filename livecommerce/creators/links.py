"""Affiliate share links: made in SQL, followed through Redis only.

A link (``affiliate_links`` row) points at a product, a show or its creator's showcase.
When it is made, its target is written to Redis (``keys.link``); a click
(:meth:`Links.click`) is then one Lua script on the link's own slot: it reads the
target, counts the click (``n``, exact) and adds the visitor to a HyperLogLog (unique
visitors, ~0.81 % standard error) — no SQL. Only a code Redis does not know (a flushed
Redis, an unknown code) is looked up in SQL, once, and cached (an unknown code as a
short-lived negative entry).

A product withdrawn from sale marks its links ``g`` (gone) through the catalog's
:class:`~livecommerce.events.ProductAvailabilityChanged`; a handle change rewrites the
showcase links' ``h`` (:class:`~livecommerce.events.HandleChanged`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce import keys
from livecommerce.auth.permissions import Principal
from livecommerce.db.engine import Database
from livecommerce.db.models import (
    AffiliateLink,
    LinkTarget,
    LiveSession,
    Product,
    Role,
    SessionStatus,
    User,
)
from livecommerce.errors import Conflict, Forbidden, NotFound, ValidationFailed
from livecommerce.events import HandleChanged, ProductAvailabilityChanged
from livecommerce.lua import script
from livecommerce.redismux import RedisMux

__all__ = ["Click", "LinkStats", "Links", "new_code"]

_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
#: Seconds an unknown code is remembered as unknown (a burst of bad codes costs one query).
UNKNOWN_TTL_S = 60

# KEYS: link hash, visitors HLL. ARGV: visitor id.
# Returns false (nothing cached), {"x"} (unknown code), or the target fields
# {k, c, i, p, s, h, g}; a click on a live target is counted, a gone product's is not.
_CLICK = script(
    "creators.click",
    """
local t = redis.call('HMGET', KEYS[1], 'k', 'c', 'i', 'p', 's', 'h', 'g', 'x')
if t[8] then return {'x'} end
if not t[1] then return false end
if t[7] ~= '1' then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
  redis.call('PFADD', KEYS[2], ARGV[1])
end
return {t[1], t[2] or '', t[3] or '', t[4] or '', t[5] or '', t[6] or '', t[7] or ''}
""",
)


def new_code() -> str:
    """A random link code: 8 characters of an unambiguous 57-letter alphabet."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True)
class Click:
    """Where a followed link goes, and for whom it counts."""

    link_id: int
    creator_id: int
    target: LinkTarget
    product_id: int | None
    session_id: int | None
    handle: str | None
    #: The product was withdrawn: answer 410, count nothing.
    gone: bool

    @property
    def location(self) -> str:
        if self.target == LinkTarget.PRODUCT:
            return f"/p/{self.product_id}"
        if self.target == LinkTarget.SHOW:
            return f"/watch/{self.session_id}"
        return f"/@{self.handle}"


@dataclass(frozen=True)
class LinkStats:
    clicks: int
    unique_visitors: int


def _fields(link: AffiliateLink, handle: str | None, gone: bool) -> dict[str, str | int]:
    return {
        "k": link.target,
        "c": link.creator_id,
        "i": link.id,
        "p": link.product_id or "",
        "s": link.session_id or "",
        "h": handle or "",
        "g": 1 if gone else 0,
    }


def _click_from(raw: Sequence[bytes | str]) -> Click:
    k, c, i, p, s, h, g = (v.decode() if isinstance(v, bytes) else v for v in raw)
    return Click(
        link_id=int(i),
        creator_id=int(c),
        target=LinkTarget(k),
        product_id=int(p) if p else None,
        session_id=int(s) if s else None,
        handle=h or None,
        gone=g == "1",
    )


class Links:
    """The links of every creator: make them, follow them, count them."""

    def __init__(self, db: Database, mux: RedisMux) -> None:
        self.db = db
        self.mux = mux

    # --- making ---

    async def create(
        self, principal: Principal, target: LinkTarget, target_id: int | None
    ) -> AffiliateLink:
        """A new link of the signed-in creator (role host, or an admin). 403 for a link
        to another creator's show or showcase; 404 for a missing product or show; 422 for
        a withdrawn product or a missing id; 409 for a showcase link without a handle."""
        creator_id = principal.require_user()
        if principal.role not in (Role.HOST, Role.ADMIN):
            raise Forbidden("only creators (hosts) make share links", code="not_a_creator")
        async with self.db.sessions() as db:
            creator = await db.get(User, creator_id)
            if creator is None:
                raise NotFound("this account no longer exists")
            link = AffiliateLink(creator_id=creator_id, target=target.value)
            gone = False
            if target == LinkTarget.PRODUCT:
                product = await db.get(Product, _required(target_id))
                if product is None:
                    raise NotFound(f"product {target_id} does not exist")
                if not product.is_active:
                    raise ValidationFailed(
                        f"product {target_id} is no longer sold", code="product_inactive"
                    )
                link.product_id = product.id
            elif target == LinkTarget.SHOW:
                show = await db.get(LiveSession, _required(target_id))
                if show is None or show.status == SessionStatus.DELETED:
                    raise NotFound(f"live session {target_id} does not exist")
                if show.host_id != creator_id and principal.role != Role.ADMIN:
                    raise Forbidden("you can only share your own shows", code="not_your_show")
                link.session_id = show.id
            else:
                if target_id is not None and target_id != creator_id:
                    raise Forbidden(
                        "you can only share your own showcase", code="not_your_showcase"
                    )
                if creator.handle is None:
                    raise Conflict("choose a handle first (PATCH /api/me)", code="handle_required")
            await self._insert(db, link)
            await db.commit()
        await self.mux.execute(
            "HSET", keys.link(link.code), *_flat(_fields(link, creator.handle, gone))
        )
        await self.mux.execute("HDEL", keys.link(link.code), "x")
        await self.mux.execute("PERSIST", keys.link(link.code))
        return link

    async def _insert(self, db: AsyncSession, link: AffiliateLink) -> None:
        link.code = new_code()
        for _ in range(5):  # 57^8 codes: a clash is rare; a taken one is drawn again
            if await db.scalar(select(AffiliateLink.id).where(AffiliateLink.code == link.code)):
                link.code = new_code()
        db.add(link)
        try:
            await db.flush()
        except IntegrityError:
            await db.rollback()
            raise Conflict(
                "could not draw a free link code; try again", code="link_code_clash"
            ) from None

    # --- following ---

    async def click(self, code: str, visitor: str) -> Click | None:
        """Count a click by ``visitor`` and say where it goes (None: unknown code).
        Redis only, unless Redis has never heard of ``code``: then SQL, once."""
        link_key, visitors_key = keys.link(code), keys.link_visitors(code)
        raw = await _CLICK.run(self.mux, [link_key, visitors_key], [visitor])
        if not raw:
            if not await self.warm(code):
                return None
            raw = await _CLICK.run(self.mux, [link_key, visitors_key], [visitor])
        if not raw or len(raw) == 1:
            return None
        return _click_from(raw)

    async def warm(self, code: str) -> bool:
        """Copy one link's target from SQL to Redis (or remember that it is unknown)."""
        async with self.db.sessions() as db:
            row = (
                await db.execute(
                    select(AffiliateLink, User.handle, Product.is_active)
                    .join(User, User.id == AffiliateLink.creator_id)
                    .outerjoin(Product, Product.id == AffiliateLink.product_id)
                    .where(AffiliateLink.code == code)
                )
            ).first()
        if row is None:
            await self.mux.execute("HSET", keys.link(code), "x", 1)
            await self.mux.execute("EXPIRE", keys.link(code), UNKNOWN_TTL_S)
            return False
        link, handle, active = row
        gone = link.product_id is not None and not active
        await self.mux.execute("HSET", keys.link(code), *_flat(_fields(link, handle, gone)))
        return True

    # --- reading ---

    async def of_creator(self, creator_id: int) -> list[AffiliateLink]:
        async with self.db.sessions() as db:
            rows = await db.scalars(
                select(AffiliateLink)
                .where(AffiliateLink.creator_id == creator_id)
                .order_by(AffiliateLink.id.desc())
            )
            return list(rows)

    async def stats(self, codes: Sequence[str]) -> dict[str, LinkStats]:
        """Clicks and unique visitors per code, from Redis."""
        # All at once: the auto-pipelined connection sends them in one round trip.
        replies = await asyncio.gather(
            *(
                self.mux.execute(*command)
                for code in codes
                for command in (
                    ("HGET", keys.link(code), "n"),
                    ("PFCOUNT", keys.link_visitors(code)),
                )
            )
        )
        return {
            code: LinkStats(int(replies[2 * i] or 0), int(replies[2 * i + 1] or 0))
            for i, code in enumerate(codes)
        }

    # --- keeping Redis in step ---

    async def on_availability(self, event: ProductAvailabilityChanged) -> None:
        async with self.db.sessions() as db:
            codes = list(
                await db.scalars(
                    select(AffiliateLink.code).where(AffiliateLink.product_id == event.product_id)
                )
            )
        for code in codes:
            await self._update_if_cached(code, "g", 0 if event.is_active else 1)

    async def on_handle(self, event: HandleChanged) -> None:
        async with self.db.sessions() as db:
            codes = list(
                await db.scalars(
                    select(AffiliateLink.code).where(
                        AffiliateLink.creator_id == event.user_id,
                        AffiliateLink.target == LinkTarget.SHOWCASE.value,
                    )
                )
            )
        for code in codes:
            await self._update_if_cached(code, "h", event.handle)

    async def _update_if_cached(self, code: str, field: str, value: str | int) -> None:
        # Only a cached link is changed: one Redis lost loads it whole from SQL later.
        if await self.mux.execute("HEXISTS", keys.link(code), "k"):
            await self.mux.execute("HSET", keys.link(code), field, value)


def _required(target_id: int | None) -> int:
    if target_id is None:
        raise ValidationFailed(
            "id: required for a product or show link",
            errors=[{"loc": ["body", "id"], "msg": "Field required", "type": "missing"}],
        )
    return target_id


def _flat(fields: dict[str, str | int]) -> list[str | int]:
    return [x for pair in fields.items() for x in pair]
