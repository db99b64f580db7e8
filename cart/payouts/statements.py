"""What a creator reads about payouts: the list, and one payout's statement."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cart.earnings import entry_out
from cart.payouts.schemas import PayoutOut, PayoutStatementOut
from livecommerce.auth.permissions import Principal
from livecommerce.db.models import CommissionEntry, Payout
from livecommerce.errors import NotFound

__all__ = ["list_payouts", "payout_out", "statement"]


def payout_out(p: Payout) -> PayoutOut:
    return PayoutOut(
        id=p.id,
        currency=p.currency,
        amount_minor=p.amount_minor,
        entry_count=p.entry_count,
        status=p.status,
        gateway=p.gateway,
        transfer_id=p.transfer_id,
        created_at=p.created_at,
        paid_at=p.paid_at,
    )


async def list_payouts(
    db: AsyncSession, creator_id: int, *, limit: int, offset: int
) -> list[PayoutOut]:
    rows = await db.scalars(
        select(Payout)
        .where(Payout.creator_id == creator_id)
        .order_by(Payout.created_at.desc(), Payout.id)
        .limit(limit)
        .offset(offset)
    )
    return [payout_out(p) for p in rows]


async def statement(
    db: AsyncSession, principal: Principal, payout_id: str, *, now: datetime
) -> PayoutStatementOut:
    """The payout and its entries; another creator's payout is 404 (admins see any)."""
    user_id = principal.require_user()
    try:
        payout_id = str(uuid.UUID(payout_id))  # ids are UUIDs: anything else names none
    except ValueError:
        raise NotFound("no such payout") from None
    payout = await db.get(Payout, payout_id)
    if payout is None or (payout.creator_id != user_id and not principal.is_admin):
        raise NotFound("no such payout")
    entries = await db.scalars(
        select(CommissionEntry)
        .where(CommissionEntry.payout_id == payout_id)
        .order_by(CommissionEntry.id)
    )
    return PayoutStatementOut(
        **payout_out(payout).model_dump(), entries=[entry_out(e, now) for e in entries]
    )
