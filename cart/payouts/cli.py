"""``livecommerce payouts``: one payouts run (cart/payouts/run.py), then the books check."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from cart.payouts.check import check_books
from cart.payouts.gateway import payout_gateway
from cart.payouts.run import run_payouts
from livecommerce import encoding
from livecommerce.clock import Clock
from livecommerce.db.engine import Database
from livecommerce.settings import Settings

__all__ = ["main"]


async def _run(settings: Settings, creator_ids: Sequence[int] | None, check: bool) -> int:
    clock = Clock(offset_s=settings.clock_offset_s)
    db = Database(settings.database_url)
    try:
        gateway = payout_gateway(settings.data_dir, delay_s=settings.payout_test_delay_s)
        report = await run_payouts(
            db,
            gateway,
            now=clock.now(),
            minimum_minor=settings.payout_minimum_minor,
            creator_ids=creator_ids,
        )
        summary: dict[str, object] = {
            "resumed": report.resumed,
            "paid": report.paid,
            "carried_over": [
                {"creator_id": c, "currency": cur, "amount_minor": a}
                for c, cur, a in report.carried_over
            ],
        }
        ok = True
        if check:
            books = await check_books(db, now=clock.now())
            summary["books"] = books.currencies
            summary["balanced"] = ok = books.balanced
            summary["mismatched_payouts"] = books.mismatched_payouts
        print(encoding.dumps(summary).decode(), flush=True)
        return 0 if ok else 1
    finally:
        await db.dispose()


def main(settings: Settings, *, creator_ids: Sequence[int] | None = None, check: bool) -> int:
    """Entry point of the CLI sub-command: 0 when the run finished (and, with ``check``,
    the books balance)."""
    return asyncio.run(_run(settings, creator_ids, check))
