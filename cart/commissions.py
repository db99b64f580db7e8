"""The commission lifecycle: what a ledger entry is at a moment, and what a refund does.

An ``earned`` entry (written by ``cart/writer.py`` with the order) moves::

    pending --(payable_at <= now)--> payable --(a payout claims it, the gateway pays)--> paid
       |                                |
       +--------------------------------+--(refund before a payout claimed it)--> reversed

``payable`` is not stored: a stored ``pending`` entry *is* payable once its
``payable_at`` (the order's time + ``RETURN_WINDOW_DAYS``) has passed by the app's clock
(:mod:`livecommerce.clock`). So the return window is tested by moving the clock, and no
job has to flip rows for the figures to be right.

A refund of an order whose entries no payout has claimed marks them ``reversed`` and
appends a ``reversed`` entry of the opposite amount for each (the ledger stays
append-only in amounts: the sum of an order's entries is what the creator keeps). A
refund after a payout claimed an entry (the money is paid or on its way) appends an
``adjustment``: the negative amount, ``pending`` and payable at once, so the next payout
of that creator and currency is smaller by it (or, if it is below the minimum, carried
over until later earnings cover it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.db.models import CommissionEntry

__all__ = ["EARNED", "STATUSES", "reverse_order", "status_at"]

EARNED = "earned"
#: Every status the API reports.
STATUSES = ("pending", "payable", "paid", "reversed")


def status_at(entry: CommissionEntry, now: datetime) -> str:
    """The entry's status at ``now`` (``payable`` is derived, see the module doc)."""
    if entry.status == "pending" and entry.payable_at <= now:
        return "payable"
    return entry.status


async def reverse_order(session: AsyncSession, order_id: str, *, now: datetime) -> None:
    """Undo an order's commission inside the refund's transaction (see the module doc).
    Entries a payout has claimed are left as they are and get an adjustment."""
    earned = list(
        await session.scalars(
            select(CommissionEntry)
            .where(CommissionEntry.order_id == order_id, CommissionEntry.kind == EARNED)
            .order_by(CommissionEntry.id)
        )
    )
    for entry in earned:
        # Guarded on payout_id: a payouts run claiming the same row at the same moment
        # either wins (this refund then adjusts) or waits for this one (and skips it).
        result = await session.execute(
            update(CommissionEntry)
            .where(
                CommissionEntry.id == entry.id,
                CommissionEntry.payout_id.is_(None),
                CommissionEntry.status == "pending",
            )
            .values(status="reversed")
            .execution_options(synchronize_session=False)
        )
        reversed_ = result.rowcount == 1  # type: ignore[attr-defined]
        session.add(
            CommissionEntry(
                order_id=entry.order_id,
                creator_id=entry.creator_id,
                session_id=entry.session_id,
                product_id=entry.product_id,
                kind="reversed" if reversed_ else "adjustment",
                rate_bps=entry.rate_bps,
                amount_minor=-entry.amount_minor,
                currency=entry.currency,
                created_at=now,
                status="reversed" if reversed_ else "pending",
                payable_at=now,
            )
        )
