"""The reaper: expired holds return their units (I4), unless an order used them.

For every product on sale it takes the holds whose expiry has passed, asks SQL which
of them an order was made from, confirms those (their order is committed: the units
are sold) and releases the others with the guard "only if still expired" — a
checkout that claimed the hold meanwhile (to write its order) keeps it. A released
hold whose checkout had recorded a payment on it (the checkout died between payment
and order) gets that payment undone: refunded and voided.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from cart.events import StockEvents
from cart.payments import PaymentGateway, undo_payment
from cart.stock import HoldPayment, StockStore
from livecommerce.db.engine import Database
from livecommerce.db.models import Order

__all__ = ["ReapReport", "Refunder", "reap_once", "reaper_loop", "refunder"]

log = logging.getLogger("livecommerce.cart")


@dataclass
class ReapReport:
    confirmed: int = 0
    released: int = 0
    skipped: int = 0
    #: Payments of released holds given back (their checkout died before its order).
    refunded: int = 0
    products: set[int] = field(default_factory=set)


async def holds_with_orders(db: Database, hold_ids: list[str]) -> set[str]:
    found: set[str] = set()
    async with db.sessions() as session:
        for start in range(0, len(hold_ids), 500):
            chunk = hold_ids[start : start + 500]
            rows = await session.scalars(select(Order.hold_id).where(Order.hold_id.in_(chunk)))
            found.update(str(h) for h in rows if h is not None)
    return found


Refunder = Callable[[HoldPayment], Awaitable[bool]]


def refunder(gateways: Mapping[str, PaymentGateway]) -> Refunder:
    """Undo a hold's recorded payment through the gateway that took it."""

    async def refund(payment: HoldPayment) -> bool:
        gateway = gateways.get(payment.gateway)
        if gateway is None:
            log.error("no gateway %r to refund %s", payment.gateway, payment.authorization_id)
            return False
        return await undo_payment(gateway, payment.authorization_id, payment.amount_minor)

    return refund


async def reap_once(
    db: Database,
    stock: StockStore,
    *,
    now_ms: int,
    refund: Refunder | None = None,
    include_unexpired: bool = False,
) -> ReapReport:
    """Settle expired holds of every product on sale. ``refund`` undoes the payment
    recorded on a hold that is released. ``include_unexpired`` also confirms live holds
    whose order is already in SQL (reconcile does this)."""
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
                payment = await stock.payment_of(product_id, hold_id)
                result = await stock.release(product_id, hold_id, if_expired_by_ms=now_ms)
                if result == 1:
                    report.released += 1
                    report.products.add(product_id)
                    if payment is not None and refund is not None:
                        log.warning(
                            "hold %s expired with a payment and no order: refunding %s",
                            hold_id,
                            payment.authorization_id,
                        )
                        report.refunded += await refund(payment)
                elif result == -1:
                    report.skipped += 1
    return report


async def reaper_loop(
    db: Database,
    stock: StockStore,
    events: StockEvents | None,
    *,
    interval_s: float,
    refund: Refunder | None = None,
    clock: Callable[[], float] = time.time,
    on_report: Callable[[ReapReport], None] | None = None,
) -> None:
    """Run :func:`reap_once` every ``interval_s`` forever (a component job);
    ``on_report`` gets each round's report (the cart's metrics)."""
    while True:
        try:
            report = await reap_once(db, stock, now_ms=int(clock() * 1000), refund=refund)
            if on_report is not None:
                on_report(report)
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
