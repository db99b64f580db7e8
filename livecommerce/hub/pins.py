"""Pinning a product mid-show: the SQL history, the Redis pin, the cart, the viewers.

The order is the contract with the cart (see ``livecommerce.pinstate``):
SQL history row → Redis pin → ``ProductPinned`` event (the cart puts stock
on sale) → the ``pinned`` event. Used by the WebSocket ``pin`` request and
the HTTP pin endpoints alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.auth.permissions import Principal, SessionRights, session_rights
from livecommerce.db.models import LiveSession, Pin, SessionProduct, SessionStatus
from livecommerce.errors import Conflict, NotFound, ValidationFailed
from livecommerce.events import ProductPinned
from livecommerce.hub.cards import CardCache, pinned_view
from livecommerce.hub.schemas import PinIn, PinOut
from livecommerce.pinstate import PinState, clear_pin, store_pin
from livecommerce.services import Services
from livecommerce.sessionfeed import publish
from livecommerce.streampos import mark_live, position, stream_base

__all__ = ["end_pins", "pin_history", "pin_out", "pin_product", "pin_state", "unpin"]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def pin_out(pin: Pin, base_ms: int | None = None) -> PinOut:
    """The pin history record the API answers with. ``base_ms``: unix ms of the show's
    position 0 (:func:`livecommerce.streampos.stream_base`); ``None``: when it went live."""
    out = PinOut.model_validate(pin, from_attributes=True)
    pdt = _ms(pin.pinned_at)
    base = base_ms if base_ms is not None else pdt - (pin.offset_ms or 0)
    return out.model_copy(
        update={
            "pdt_ms": pdt,
            "pos_ms": max(0, pdt - base),
            "unpinned_pos_ms": (
                None if pin.unpinned_at is None else max(0, _ms(pin.unpinned_at) - base)
            ),
        }
    )


def pin_state(pin: Pin) -> PinState:
    """The live pin kept in Redis (what the cart honours) from its SQL history row."""
    return PinState(
        pin_id=pin.id,
        session_id=pin.session_id,
        product_id=pin.product_id,
        pinned_at_ms=_ms(pin.pinned_at),
        flash_price_minor=pin.flash_price_minor,
        quantity_cap=pin.quantity_cap,
        ends_at_ms=None if pin.ends_at is None else _ms(pin.ends_at),
    )


async def _close_open_pins(db: AsyncSession, session_id: int, now: datetime) -> None:
    await db.execute(
        update(Pin)
        .where(Pin.session_id == session_id, Pin.unpinned_at.is_(None))
        .values(unpinned_at=now)
    )


async def pin_product(
    services: Services,
    cards: CardCache,
    principal: Principal,
    session_id: int,
    data: PinIn,
    *,
    rights: SessionRights | None = None,
) -> PinOut:
    """Pin ``data.product_id`` (replacing any current pin). Needs moderate rights on a
    live session and a product of its lineup. ``rights``: the caller's cached
    :func:`session_rights` of ``principal`` (else they are read from SQL)."""
    now = datetime.fromtimestamp(services.clock(), UTC)
    ends_at = data.ends_at
    if data.duration_s is not None:
        ends_at = now + timedelta(seconds=data.duration_s)
    if ends_at is not None and ends_at <= now:
        raise ValidationFailed("ends_at: the end time must be in the future")
    async with services.db.sessions() as db:
        if rights is None:
            rights = await session_rights(db, principal, session_id)
        rights.require_moderate()
        # One round trip for the session's state and the lineup check.
        in_lineup = (
            select(SessionProduct.id)
            .where(
                SessionProduct.session_id == session_id,
                SessionProduct.product_id == data.product_id,
            )
            .exists()
        )
        found = (
            await db.execute(
                select(LiveSession.status, LiveSession.started_at, in_lineup).where(
                    LiveSession.id == session_id
                )
            )
        ).first()
        if found is None:
            raise NotFound(f"live session {session_id} does not exist")
        status, started_at, listed = found
        if status != SessionStatus.LIVE:
            raise Conflict(
                f"only a live show can pin products; this one is {status}",
                code="session_not_live",
            )
        if not listed:
            raise ValidationFailed(
                f"product_id: product {data.product_id} is not in this show's lineup",
                code="not_in_lineup",
            )
        await _close_open_pins(db, session_id, now)
        started = started_at or now
        row = Pin(
            session_id=session_id,
            product_id=data.product_id,
            pinned_by=principal.require_user(),
            flash_price_minor=data.flash_price_minor,
            quantity_cap=data.quantity_cap,
            ends_at=ends_at,
            pinned_at=now,
            offset_ms=max(0, _ms(now) - _ms(started)),
        )
        db.add(row)
        await db.commit()
    await mark_live(services.redis, session_id, _ms(started))
    at = await position(services.redis, session_id, _ms(now), started_ms=_ms(started))
    out = pin_out(row, at.pdt_ms - at.pos_ms)
    state = pin_state(row)
    await store_pin(services.redis, state)
    await services.events.publish(ProductPinned(session_id=session_id, pin=state))
    view = await pinned_view(services.redis, cards, state)
    await publish(
        services.redis,
        session_id,
        {"type": "pinned", **view, **at.fields()},
        maxlen=services.settings.hub_stream_maxlen,
        count="pins",
    )
    return out


async def unpin(
    services: Services,
    principal: Principal,
    session_id: int,
    *,
    rights: SessionRights | None = None,
) -> PinOut:
    """Unpin the current product (409 ``not_pinned`` if there is none)."""
    now = datetime.fromtimestamp(services.clock(), UTC)
    async with services.db.sessions() as db:
        if rights is None:
            rights = await session_rights(db, principal, session_id)
        rights.require_moderate()
        row = await db.scalar(
            select(Pin)
            .where(Pin.session_id == session_id, Pin.unpinned_at.is_(None))
            .order_by(Pin.id.desc())
            .limit(1)
        )
        if row is None:
            raise Conflict("nothing is pinned in this show", code="not_pinned")
        await _close_open_pins(db, session_id, now)
        row.unpinned_at = now
        await db.commit()
        started = _ms(row.pinned_at) - (row.offset_ms or 0)
        at = await position(services.redis, session_id, _ms(now), started_ms=started)
        out = pin_out(row, at.pdt_ms - at.pos_ms)
    await clear_pin(services.redis, session_id)
    await publish(
        services.redis,
        session_id,
        {"type": "unpinned", "pin_id": out.id, "product_id": out.product_id, **at.fields()},
        maxlen=services.settings.hub_stream_maxlen,
    )
    return out


async def end_pins(services: Services, session_id: int) -> None:
    """The show ended: close its pin in SQL and Redis and tell viewers (no rights check:
    called from the session's own state change)."""
    now = datetime.fromtimestamp(services.clock(), UTC)
    async with services.db.sessions() as db:
        row = await db.scalar(
            select(Pin).where(Pin.session_id == session_id, Pin.unpinned_at.is_(None)).limit(1)
        )
        if row is None:
            return
        await _close_open_pins(db, session_id, now)
        await db.commit()
        pin_id, product_id = row.id, row.product_id
        started = _ms(row.pinned_at) - (row.offset_ms or 0)
    at = await position(services.redis, session_id, _ms(now), started_ms=started)
    await clear_pin(services.redis, session_id)
    await publish(
        services.redis,
        session_id,
        {"type": "unpinned", "pin_id": pin_id, "product_id": product_id, **at.fields()},
        maxlen=services.settings.hub_stream_maxlen,
    )


async def pin_history(services: Services, session_id: int) -> list[PinOut]:
    async with services.db.sessions() as db:
        if await db.get(LiveSession, session_id) is None:
            raise NotFound(f"live session {session_id} does not exist")
        rows = list(
            await db.scalars(select(Pin).where(Pin.session_id == session_id).order_by(Pin.id))
        )
    base = await stream_base(services.redis, session_id)
    return [pin_out(r, base) for r in rows]
