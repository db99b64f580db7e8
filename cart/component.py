"""The cart as an app component: wires stores, checkout, the order writer, stock
events and the reaper, and subscribes to the catalog's, pins' and live sessions' events."""

from __future__ import annotations

import asyncio

from cart.carts import CartStore
from cart.checkout import Checkout
from cart.events import StockEvents
from cart.idempotency import IdempotencyStore
from cart.lookups import Lookups
from cart.metrics import CartMetrics
from cart.onsale import OnSale
from cart.orderfeed import OrderFeed
from cart.payments import gateways_for
from cart.payouts.gateway import payout_gateway
from cart.payouts.run import payouts_loop
from cart.reaper import reaper_loop, refunder
from cart.stock import StockStore
from cart.writer import OrderWriter
from livecommerce.components import Component, Job
from livecommerce.events import (
    LineupChanged,
    ProductPinned,
    SessionStateChanged,
    StockTotalChanging,
)
from livecommerce.services import Services

__all__ = ["CartComponent"]


class CartComponent(Component):
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings

    async def start(self) -> None:
        services, settings = self.services, self.settings
        redis, db = services.redis, services.db
        self.admission = asyncio.Semaphore(settings.checkout_admission)
        self.stock = StockStore(redis, services.mux)
        self.onsale = OnSale(db=db, redis=redis, stock=self.stock)
        self.lookups = Lookups(
            db, ttl_s=settings.checkout_lookup_ttl_s, max_entries=settings.cache_max_entries
        )
        self.carts = CartStore(redis, ttl_s=settings.cart_ttl_s)
        self.idempotency = IdempotencyStore(
            services.mux, wait_s=settings.idempotency_wait_s, poll_s=settings.idempotency_poll_s
        )
        self.events = StockEvents(
            redis,
            interval_s=settings.stock_event_interval_s,
            maxlen=settings.hub_stream_maxlen,
            clock=services.clock,
        )
        self.metrics = CartMetrics(services.metrics.registry)
        self.writer = OrderWriter(
            db,
            window_s=settings.order_batch_window_s,
            metrics=self.metrics,
            clock=services.clock,
            return_window_days=settings.return_window_days,
        )
        self.gateways = gateways_for(settings.secret_key)
        #: Every order creation and status change goes out to its buyer through this.
        self.order_feed = OrderFeed(services.mux, clock=services.clock)
        self.checkout = Checkout(
            mux=services.mux,
            stock=self.stock,
            onsale=self.onsale,
            lookups=self.lookups,
            gateways=self.gateways,
            writer=self.writer,
            events=self.events,
            feed=self.order_feed,
            hold_ttl_s=settings.hold_ttl_s,
            per_user_cap=settings.cart_max_units_per_user,
            clock=services.clock,
        )
        services.events.subscribe(ProductPinned, self.onsale.on_pinned)
        services.events.subscribe(SessionStateChanged, self.onsale.on_session_state)
        services.events.subscribe(LineupChanged, self.onsale.on_lineup)
        services.events.subscribe(StockTotalChanging, self._on_stock_total)
        await self.writer.start()
        await self.events.start()

    async def _on_stock_total(self, event: StockTotalChanging) -> None:
        await self.onsale.on_stock_total(event)
        self.lookups.forget(event.product_id)
        self.events.touch(event.product_id)

    async def stop(self) -> None:
        await self.events.stop()
        await self.writer.stop()

    def jobs(self) -> list[Job]:
        if self.settings.payout_interval_s > 0:
            return [self._reaper, self._payouts]
        return [self._reaper]

    async def _payouts(self) -> None:
        settings = self.settings
        await payouts_loop(
            self.services.db,
            payout_gateway(settings.data_dir, delay_s=settings.payout_test_delay_s),
            clock=self.services.clock.now,
            minimum_minor=settings.payout_minimum_minor,
            interval_s=settings.payout_interval_s,
        )

    async def _reaper(self) -> None:
        await reaper_loop(
            self.services.db,
            self.stock,
            self.events,
            interval_s=self.settings.reaper_interval_s,
            refund=refunder(self.gateways),
            clock=self.services.clock,
            on_report=self.metrics.reaped,
        )
