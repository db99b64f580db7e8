"""The payouts job: payable commission, batched per creator and currency, paid once.

One run (:func:`run_payouts`):

1. **Resume**: every payout left ``processing`` by an earlier run (killed, or the gateway
   failed) is sent again with the same idempotency key (its id); the gateway returns the
   transfer it already made, if any, so nothing is paid twice.
2. **Claim**, per creator and currency, in ONE transaction each: a ``payouts`` row and its
   entries (``pending``, ``payable_at <= now``, no ``payout_id`` — earned amounts and
   negative adjustments alike) pointed at it. A total below ``minimum_minor`` is not
   claimed: it is carried over to a later run. A crash before the commit leaves nothing;
   after it, a ``processing`` payout that step 1 finishes.
3. **Pay** each claimed payout through the gateway, then mark it and its entries ``paid``
   in one transaction.

Every entry is claimed by at most one payout (the claim's ``UPDATE`` is guarded on
``payout_id IS NULL``), and a payout's amount is the sum of exactly the entries that
point at it, so amounts are exact to the cent (I8).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cart.payouts.gateway import PayoutGateway
from livecommerce.db.engine import Database
from livecommerce.db.models import CommissionEntry, Payout

__all__ = ["PayoutReport", "payouts_loop", "run_payouts"]

log = logging.getLogger("livecommerce.payouts")


@dataclass
class PayoutReport:
    #: Payouts of earlier runs finished by this one.
    resumed: list[str] = field(default_factory=list)
    #: Payouts claimed and paid by this one.
    paid: list[str] = field(default_factory=list)
    #: (creator_id, currency, amount_minor) left for later: below the minimum.
    carried_over: list[tuple[int, str, int]] = field(default_factory=list)


async def run_payouts(
    db: Database,
    gateway: PayoutGateway,
    *,
    now: datetime,
    minimum_minor: int,
    creator_ids: Sequence[int] | None = None,
) -> PayoutReport:
    """One run (see the module doc); ``creator_ids`` limits it to those creators."""
    report = PayoutReport()
    async with db.sessions() as session:
        query = select(Payout.id).where(Payout.status == "processing").order_by(Payout.created_at)
        if creator_ids is not None:
            query = query.where(Payout.creator_id.in_(creator_ids))
        unfinished = list(await session.scalars(query))
    for payout_id in unfinished:
        await _pay(db, gateway, payout_id, now=now)
        report.resumed.append(payout_id)
    for creator_id, currency, amount in await _payable_groups(db, now, creator_ids):
        if amount < minimum_minor:
            report.carried_over.append((creator_id, currency, amount))
            continue
        claimed = await _claim(
            db, gateway.name, creator_id, currency, now=now, minimum_minor=minimum_minor
        )
        if claimed is None:  # another run or a refund took entries meanwhile
            continue
        await _pay(db, gateway, claimed, now=now)
        report.paid.append(claimed)
    return report


def _payable(now: datetime) -> tuple[object, ...]:
    return (
        CommissionEntry.status == "pending",
        CommissionEntry.payout_id.is_(None),
        CommissionEntry.payable_at <= now,
    )


async def _payable_groups(
    db: Database, now: datetime, creator_ids: Sequence[int] | None
) -> list[tuple[int, str, int]]:
    query = (
        select(
            CommissionEntry.creator_id,
            CommissionEntry.currency,
            func.sum(CommissionEntry.amount_minor),
        )
        .where(*_payable(now))  # type: ignore[arg-type]
        .group_by(CommissionEntry.creator_id, CommissionEntry.currency)
        .order_by(CommissionEntry.creator_id, CommissionEntry.currency)
    )
    if creator_ids is not None:
        query = query.where(CommissionEntry.creator_id.in_(creator_ids))
    async with db.sessions() as session:
        rows = (await session.execute(query)).all()
    return [(int(c), str(cur), int(total or 0)) for c, cur, total in rows]


async def _claim(
    db: Database,
    gateway: str,
    creator_id: int,
    currency: str,
    *,
    now: datetime,
    minimum_minor: int,
) -> str | None:
    """A ``processing`` payout with its entries, committed together; None if what is
    still unclaimed no longer reaches the minimum."""
    payout_id = str(uuid.uuid4())
    try:
        async with db.sessions() as session, session.begin():
            await _claim_in(session, payout_id, gateway, creator_id, currency, now=now)
            amount, count = await _claimed(session, payout_id)
            if amount < minimum_minor or count == 0:
                raise _Raced  # rolls the claim back
            await session.execute(
                update(Payout)
                .where(Payout.id == payout_id)
                .values(amount_minor=amount, entry_count=count)
            )
    except _Raced:
        return None
    return payout_id


class _Raced(Exception):
    pass


async def _claim_in(
    session: AsyncSession,
    payout_id: str,
    gateway: str,
    creator_id: int,
    currency: str,
    *,
    now: datetime,
) -> None:
    session.add(
        Payout(
            id=payout_id,
            creator_id=creator_id,
            currency=currency,
            amount_minor=0,
            entry_count=0,
            status="processing",
            gateway=gateway,
            created_at=now,
        )
    )
    await session.flush()
    await session.execute(
        update(CommissionEntry)
        .where(
            CommissionEntry.creator_id == creator_id,
            CommissionEntry.currency == currency,
            *_payable(now),  # type: ignore[arg-type]
        )
        .values(payout_id=payout_id)
        .execution_options(synchronize_session=False)
    )


async def _claimed(session: AsyncSession, payout_id: str) -> tuple[int, int]:
    row = (
        await session.execute(
            select(func.sum(CommissionEntry.amount_minor), func.count()).where(
                CommissionEntry.payout_id == payout_id
            )
        )
    ).one()
    return int(row[0] or 0), int(row[1])


async def _pay(db: Database, gateway: PayoutGateway, payout_id: str, *, now: datetime) -> None:
    async with db.sessions() as session:
        payout = await session.get(Payout, payout_id)
        assert payout is not None
        creator_id, amount, currency = payout.creator_id, payout.amount_minor, payout.currency
    transfer = await gateway.send(
        creator_id=creator_id, amount_minor=amount, currency=currency, idempotency_key=payout_id
    )
    if (transfer.amount_minor, transfer.currency) != (amount, currency):
        # Never expected: the key is the payout's id and a payout's amount never changes.
        raise RuntimeError(f"payout {payout_id}: the gateway paid {transfer} for {amount}")
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(Payout)
            .where(Payout.id == payout_id, Payout.status == "processing")
            .values(status="paid", transfer_id=transfer.id, paid_at=now)
        )
        await session.execute(
            update(CommissionEntry)
            .where(CommissionEntry.payout_id == payout_id, CommissionEntry.status == "pending")
            .values(status="paid")
            .execution_options(synchronize_session=False)
        )
    log.info("payout %s: %d %s to creator %d", payout_id, amount, currency, creator_id)


async def payouts_loop(
    db: Database,
    gateway: PayoutGateway,
    *,
    clock: Callable[[], datetime],
    minimum_minor: int,
    interval_s: float,
) -> None:
    """The worker's job (``PAYOUT_INTERVAL_S`` > 0): a run, then wait; a failed run is
    logged and the next one resumes what it left (runs may overlap across processes)."""
    while True:
        try:
            await run_payouts(db, gateway, now=clock(), minimum_minor=minimum_minor)
        except Exception:  # noqa: BLE001 - the next run resumes; the loop must live
            log.exception("payouts run failed")
        await asyncio.sleep(interval_s)
