"""``livecommerce reconcile``: prove sold + held + available = total for every variant
on sale, and fix only what is provably safe.

Safe fixes, in order:

1. a hold whose order is in SQL is confirmed (the order is committed; units are sold);
2. an expired hold with no order is released (guarded like the reaper's release);
3. a product in the on-sale set whose stock keys are missing is reloaded from SQL;
4. ``available`` above ``total - sold - held`` is lowered to it (never raised: a unit
   that looks stranded may belong to a checkout still in flight; it is reported).

Run it on a quiet system for exact figures: on a live one, a checkout between its
commit and its confirm shows as a transient mismatch; run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import func, select

from cart.onsale import DEAD_STATUSES, sql_stock
from cart.payments import gateways_for
from cart.reaper import Refunder, reap_once, refunder
from cart.stock import StockStore
from livecommerce import encoding, redisclient
from livecommerce.db.engine import Database
from livecommerce.db.models import Order, OrderItem, Variant
from livecommerce.settings import Settings

__all__ = ["ReconcileReport", "VariantCheck", "main", "reconcile"]


@dataclass
class VariantCheck:
    product_id: int
    variant_id: int
    total: int
    sold: int
    held: int
    available: int | None
    ok: bool


@dataclass
class ReconcileReport:
    variants: list[VariantCheck] = field(default_factory=list)
    oversold: int = 0
    confirmed: int = 0
    released: int = 0
    #: Payments refunded with released holds (checkouts that died before their order).
    refunded: int = 0
    reloaded: int = 0
    lowered: int = 0
    holds_left: int = 0

    @property
    def consistent(self) -> bool:
        return self.oversold == 0 and all(v.ok for v in self.variants)

    def summary(self) -> dict[str, object]:
        return {
            "products": len({v.product_id for v in self.variants}),
            "variants": len(self.variants),
            "mismatched": sum(not v.ok for v in self.variants),
            "oversold": self.oversold,
            "holds_confirmed": self.confirmed,
            "holds_released": self.released,
            "payments_refunded": self.refunded,
            "holds_left": self.holds_left,
            "reloaded": self.reloaded,
            "lowered": self.lowered,
            "consistent": self.consistent,
        }


async def oversold_units(db: Database) -> int:
    """Units sold beyond stock_total, over every variant in SQL (must be 0: I1)."""
    sold = (
        select(OrderItem.variant_id.label("v"), func.sum(OrderItem.quantity).label("q"))
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.status.not_in(DEAD_STATUSES))
        .group_by(OrderItem.variant_id)
        .subquery()
    )
    async with db.sessions() as session:
        rows = await session.execute(
            select(sold.c.q, Variant.stock_total).join(Variant, Variant.id == sold.c.v)
        )
        return sum(max(0, int(q) - int(t)) for q, t in rows)


async def reconcile(
    db: Database,
    stock: StockStore,
    *,
    now_ms: int | None = None,
    fix: bool = True,
    refund: Refunder | None = None,
) -> ReconcileReport:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    report = ReconcileReport()
    if fix:
        reaped = await reap_once(db, stock, now_ms=now_ms, refund=refund, include_unexpired=True)
        report.confirmed, report.released = reaped.confirmed, reaped.released
        report.refunded = reaped.refunded
    for product_id in await stock.on_sale():
        async with db.sessions() as session:
            sql = await sql_stock(session, product_id)
        counts = await stock.counts(product_id) or {}
        if fix and any(v not in counts for v in sql):
            report.reloaded += await stock.load(product_id, sql)
            counts = await stock.counts(product_id) or {}
        held = await stock.held_by_variant(product_id)
        report.holds_left += len(await stock.holds(product_id))
        for variant_id, (total, sold) in sorted(sql.items()):
            c = counts.get(variant_id)
            available = None if c is None else c.available
            h = held.get(variant_id, 0)
            if fix and available is not None and sold + h + available > total:
                _, available, h = await stock.lower_to_sql(product_id, variant_id, total, sold)
                report.lowered += 1
            ok = available is not None and sold + h + available == total
            report.variants.append(
                VariantCheck(product_id, variant_id, total, sold, h, available, ok)
            )
    report.oversold = await oversold_units(db)
    return report


async def _redis_for(settings: Settings, stack: contextlib.AsyncExitStack) -> Redis:
    """REDIS_URL; else the running server's private valkey; else start it from its AOF."""
    url = settings.redis_url
    if url is None:
        from livecommerce.valkey import EmbeddedValkey

        directory = Path(settings.data_dir) / "valkey"
        sock = directory / "valkey.sock"
        probe = Redis(unix_socket_path=str(sock))
        try:
            await probe.ping()
            url = f"unix://{sock.resolve()}"
        except Exception:  # noqa: BLE001 - not running: start it ourselves
            valkey = EmbeddedValkey(directory)
            url = await valkey.astart()
            stack.push_async_callback(valkey.astop)
        finally:
            await probe.aclose()
    redis = redisclient.connect(url)  # one server or a cluster (redis+cluster://)
    stack.push_async_callback(redis.aclose)
    return redis


async def run(settings: Settings, *, fix: bool = True) -> int:
    async with contextlib.AsyncExitStack() as stack:
        redis = await _redis_for(settings, stack)
        db = Database(settings.database_url)
        stack.push_async_callback(db.dispose)
        stock = StockStore(redis)
        stack.push_async_callback(stock.mux.aclose)
        report = await reconcile(
            db, stock, fix=fix, refund=refunder(gateways_for(settings.secret_key))
        )
    for v in report.variants:
        mark = "ok " if v.ok else "BAD"
        print(
            f"{mark} product {v.product_id} variant {v.variant_id}: sold {v.sold} + held {v.held}"
            f" + available {v.available} = {v.sold + v.held + (v.available or 0)}"
            f" (total {v.total})"
        )
    print(encoding.dumps(report.summary()).decode())
    return 0 if report.consistent else 1


def main(settings: Settings, *, fix: bool = True) -> int:
    """Entry point of the CLI sub-command; exit code 0 when consistent after fixing."""
    return asyncio.run(run(settings, fix=fix))
