"""The reaper: expired holds return their units (I4), unless an order used them.

For every product on sale it takes the holds whose expiry has passed, asks SQL which
of them an order was made from, confirms those (their order is committed: the units
are sold) and releases the others with the guard "only if still expired" — a
checkout that claimed the hold meanwhile (to write its order) keeps it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from cart.events import StockEvents
from cart.stock import StockStore
from livecommerce.db.engine import Database
from livecommerce.db.models import Order

__all__ = ["ReapReport", "reap_once", "reaper_loop"]

log = logging.getLogger("livecommerce.cart")


@dataclass
class ReapReport:
    confirmed: int = 0
    released: int = 0
    skipped: int = 0
    products: set[int] = field(default_factory=set)


async def holds_with_orders(db: Database, hold_ids: list[str]) -> set[str]:
    found: set[str] = set()
    async with db.sessions() as session:
        for start in range(0, len(hold_ids), 500):
            chunk = hold_ids[start : start + 500]
            rows = await session.scalars(select(Order.hold_id).where(Order.hold_id.in_(chunk)))
            found.update(str(h) for h in rows if h is not None)
    return found


async def reap_once(
    db: Database, stock: StockStore, *, now_ms: int, include_unexpired: bool = False
) -> ReapReport:
    """Settle expired holds of every product on sale. ``include_unexpired`` also
    confirms live holds whose order is already in SQL (reconcile does this)."""
    report = ReapReport()
    for product_id in await stock.on_sale():
        candidates = await stock.holds(
            product_id, until_ms=float("inf") if include_unexpired else now_ms
        )
        if not candidates:
            continue
        expired = (
            set(await stock.holds(product_id, until_ms=now_ms))
            if include_unexpired
            else set(candidates)
        )
        with_order = await holds_with_orders(db, candidates)
        for hold_id in candidates:
            if hold_id in with_order:
                report.confirmed += await stock.confirm(product_id, hold_id)
                report.products.add(product_id)
            elif hold_id in expired:
                result = await stock.release(product_id, hold_id, if_expired_by_ms=now_ms)
                if result == 1:
                    report.released += 1
                    report.products.add(product_id)
                elif result == -1:
                    report.skipped += 1
    return report


async def reaper_loop(
    db: Database,
    stock: StockStore,
    events: StockEvents | None,
    *,
    interval_s: float,
    clock: Callable[[], float] = time.time,
) -> None:
    """Run :func:`reap_once` every ``interval_s`` forever (a component job)."""
    while True:
        try:
            report = await reap_once(db, stock, now_ms=int(clock() * 1000))
            if report.confirmed or report.released:
                log.info(
                    "reaper: %d holds confirmed, %d released", report.confirmed, report.released
                )
            if events is not None:
                for product_id in report.products:
                    events.touch(product_id)
        except Exception:  # noqa: BLE001 - a failed round is retried next interval
            log.exception("reaper round failed")
        await asyncio.sleep(interval_s)  # the reaper's period, not a wait for an event
