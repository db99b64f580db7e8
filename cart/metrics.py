"""The cart's Prometheus numbers for this process (``docs/operations.md``).

Registered on the app's registry by the cart component. Each is a counter
increment or one histogram observation where it happens: nothing on the hot path
waits for them.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram

from cart.reaper import ReapReport

__all__ = ["CartMetrics"]


class CartMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.checkouts = Counter(
            "livecommerce_cart_checkouts",
            "Checkout and instant-buy answers, by outcome: 'confirmed' or the error code "
            "(out_of_stock, limit_exceeded, payment_failed, unavailable, ...).",
            ["outcome"],
            registry=registry,
        )
        self.checkout_seconds = Histogram(
            "livecommerce_cart_checkout_seconds",
            "Checkout latency in this process, from arrival to answer (admission wait included).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.holds_reaped = Counter(
            "livecommerce_cart_holds_reaped",
            "Holds the reaper settled, by result: released (units returned), confirmed "
            "(their order was in SQL), refunded (a released hold's payment given back).",
            ["result"],
            registry=registry,
        )
        self.orders_written = Counter(
            "livecommerce_cart_orders_written",
            "Orders committed by the group-commit writer.",
            registry=registry,
        )
        self.order_batch_size = Histogram(
            "livecommerce_cart_order_batch_size",
            "Orders per group-commit transaction.",
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500),
            registry=registry,
        )

    def answered(self, outcome: str, started: float) -> None:
        """One checkout answered; ``started`` is its ``time.perf_counter()`` on arrival."""
        self.checkouts.labels(outcome).inc()
        self.checkout_seconds.observe(time.perf_counter() - started)

    def reaped(self, report: ReapReport) -> None:
        if report.released:
            self.holds_reaped.labels("released").inc(report.released)
        if report.confirmed:
            self.holds_reaped.labels("confirmed").inc(report.confirmed)
        if report.refunded:
            self.holds_reaped.labels("refunded").inc(report.refunded)

    def batch_written(self, size: int, committed: int) -> None:
        self.order_batch_size.observe(size)
        self.orders_written.inc(committed)
