"""The payouts' books balance: a proof over the whole ledger, cheap enough to run after
every payouts run (``livecommerce payouts --check``).

Per currency:

* the net of every ledger entry = pending + payable + paid (a reversal and the entry it
  reverses cancel out);
* the ledger's ``paid`` entries = the sum of ``paid`` payouts, and the entries claimed by a
  ``processing`` payout = the sum of those payouts;
* every payout's amount = the sum of the entries that point at it (so no entry is paid in
  two payouts, and none is paid without its payout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from livecommerce.db.engine import Database
from livecommerce.db.models import CommissionEntry, Payout

__all__ = ["Books", "check_books"]


@dataclass
class Books:
    #: currency -> {"net", "pending", "payable", "paid", "payouts_paid", "processing",
    #: "payouts_processing"}
    currencies: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Payouts whose amount is not the sum of their entries.
    mismatched_payouts: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.mismatched_payouts and all(
            c["net"] == c["pending"] + c["payable"] + c["paid"]
            and c["paid"] == c["payouts_paid"]
            and c["processing"] == c["payouts_processing"]
            for c in self.currencies.values()
        )


async def check_books(db: Database, *, now: datetime) -> Books:
    books = Books()

    def of(currency: str) -> dict[str, int]:
        return books.currencies.setdefault(
            currency,
            dict.fromkeys(("net", "pending", "payable", "paid", "payouts_paid", "processing"), 0)
            | {"payouts_processing": 0},
        )

    async with db.sessions() as session:
        is_due = CommissionEntry.payable_at <= now  # one expression: one bound parameter
        is_claimed = CommissionEntry.payout_id.is_not(None)
        rows = await session.execute(
            select(
                CommissionEntry.currency,
                CommissionEntry.status,
                is_due,
                is_claimed,
                func.sum(CommissionEntry.amount_minor),
            ).group_by(CommissionEntry.currency, CommissionEntry.status, is_due, is_claimed)
        )
        for currency, status, due, claimed, total in rows:
            sums, amount = of(currency), int(total or 0)
            sums["net"] += amount
            if status == "pending":
                sums["payable" if due else "pending"] += amount
                if claimed:
                    sums["processing"] += amount
            elif status == "paid":
                sums["paid"] += amount
        payouts = await session.execute(
            select(Payout.currency, Payout.status, func.sum(Payout.amount_minor)).group_by(
                Payout.currency, Payout.status
            )
        )
        for currency, status, total in payouts:
            of(currency)["payouts_paid" if status == "paid" else "payouts_processing"] += int(
                total or 0
            )
        claimed_sums = (
            select(
                CommissionEntry.payout_id.label("pid"),
                func.sum(CommissionEntry.amount_minor).label("s"),
            )
            .where(CommissionEntry.payout_id.is_not(None))
            .group_by(CommissionEntry.payout_id)
            .subquery()
        )
        bad = await session.scalars(
            select(Payout.id)
            .outerjoin(claimed_sums, claimed_sums.c.pid == Payout.id)
            .where(func.coalesce(claimed_sums.c.s, 0) != Payout.amount_minor)
        )
        books.mismatched_payouts = list(bad)
    return books
