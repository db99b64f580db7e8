"""What checkout reads from SQL: products (briefly cached), sessions, the buyer.

Prices and commission rates come from here, never from the client. Product cards
(:class:`livecommerce.catalog.cards.ProductCard`, priced by the one price rule) and
session facts are cached for ``ttl_s`` (``CHECKOUT_LOOKUP_TTL_S``, default 1 s) per
process: a flash sale reads the same product thousands of times a second, and a
price change still applies within a second. The buyer's address and payment method
are read fresh, batched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from livecommerce.accounts.payment_methods import SavedMethod, saved_methods_of
from livecommerce.catalog.cards import ProductCard, ProductCards, VariantCard
from livecommerce.creators.rates import commission_rates
from livecommerce.db.engine import Database
from livecommerce.db.models import LiveSession
from livecommerce.errors import Conflict, NotFound
from livecommerce.ttlcache import TtlCache

__all__ = ["Buyer", "Lookups", "ProductInfo", "SavedMethod", "SessionInfo", "VariantInfo"]

#: What checkout knows of a product and a variant: the catalog's card.
ProductInfo = ProductCard
VariantInfo = VariantCard


@dataclass(frozen=True)
class SessionInfo:
    id: int
    host_id: int
    status: str
    #: When the show went live (None: not yet): its purchases earn the rate of then.
    started_at: datetime | None = None


@dataclass(frozen=True)
class Buyer:
    user_id: int
    shipping_address: dict[str, Any]
    payment_gateway: str
    payment_token: str


class Lookups:
    """Call :meth:`start` before use (the buyer loader's batching task)."""

    def __init__(
        self,
        db: Database,
        *,
        ttl_s: float = 1.0,
        max_entries: int = 10_000,
        batch_window_s: float = 0.005,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.batch_window_s = batch_window_s
        self.clock = clock
        self.cards = ProductCards(db, ttl_s=ttl_s, max_entries=max_entries, clock=clock)
        self._sessions: TtlCache[int, SessionInfo | None] = TtlCache(
            self._load_session, ttl_s=ttl_s, max_entries=max_entries, clock=clock
        )
        self._rates: TtlCache[tuple[int, tuple[int, ...], datetime], dict[int, int]] = TtlCache(
            self._load_rates, ttl_s=ttl_s, max_entries=max_entries, clock=clock
        )
        self._buyers: dict[int, asyncio.Future[list[SavedMethod] | None]] = {}
        self._flush: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[None]] = set()

    async def product(self, product_id: int) -> ProductInfo:
        """The product (404 if missing or withdrawn)."""
        return await self.cards.on_sale(product_id)

    def forget(self, product_id: int) -> None:
        self.cards.forget(product_id)

    async def session(self, session_id: int) -> SessionInfo:
        info = await self._sessions.get(session_id)
        if info is None:
            raise NotFound(f"live session {session_id} does not exist")
        return info

    async def _load_session(self, session_id: int) -> SessionInfo | None:
        async with self.db.sessions() as db:
            row = (
                await db.execute(
                    select(LiveSession.host_id, LiveSession.status, LiveSession.started_at).where(
                        LiveSession.id == session_id
                    )
                )
            ).first()
        return SessionInfo(session_id, int(row[0]), str(row[1]), row[2]) if row else None

    async def rates(
        self, creator_id: int, product_ids: Sequence[int], attributed_at: datetime
    ) -> dict[int, int]:
        """``creator_id``'s commission (bps) per product at ``attributed_at``
        (livecommerce.creators.rates), cached like the products: a show's buyers share
        one read a second."""
        return await self._rates.get((creator_id, tuple(sorted(product_ids)), attributed_at))

    async def _load_rates(self, key: tuple[int, tuple[int, ...], datetime]) -> dict[int, int]:
        creator_id, product_ids, attributed_at = key
        async with self.db.sessions() as db:
            return await commission_rates(
                db, creator_id=creator_id, product_ids=product_ids, attributed_at=attributed_at
            )

    async def buyer(
        self,
        user_id: int,
        payment_method_id: int | None,
        prefetched: asyncio.Future[list[SavedMethod] | None] | None = None,
    ) -> Buyer:
        """The buyer's saved address and payment method; 409 if either is missing.

        Many checkouts at once share one SQL query: requests wait ``batch_window_s``
        and are answered together (``WHERE user_id IN (...)``). ``prefetched``: the
        future :meth:`prefetch_buyer` returned for this user."""
        if prefetched is None:
            prefetched = self.prefetch_buyer(user_id)
        methods = await asyncio.shield(prefetched)
        if methods is None:
            raise NotFound("this account no longer exists")
        address = methods[0].address if methods else None
        chosen = [m for m in methods if m.id is not None]
        if payment_method_id is not None:
            chosen = [m for m in chosen if m.id == payment_method_id]
            if not chosen:
                raise NotFound(f"you have no payment method {payment_method_id}")
        if not chosen:
            raise Conflict(
                "save a payment method first (POST /api/me/payment-methods)",
                code="no_payment_method",
            )
        if not address:
            raise Conflict(
                "save a shipping address first (PUT /api/me/address)", code="no_shipping_address"
            )
        method = chosen[0]
        return Buyer(user_id, dict(address), method.gateway, method.token)

    def prefetch_buyer(self, user_id: int) -> asyncio.Future[list[SavedMethod] | None]:
        """Start (or join) the batched read of the buyer's address and payment methods
        without waiting: checkout starts it first and awaits :meth:`buyer` after the
        reservation, so the read's batch window overlaps the Redis round trips."""
        future = self._buyers.get(user_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            # a checkout that stops before awaiting it (sold out) leaves any error unread
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._buyers[user_id] = future
            if self._flush is None:
                self._flush = asyncio.get_running_loop().call_later(
                    self.batch_window_s, self._start_flush
                )
        return future

    def _start_flush(self) -> None:
        self._flush = None
        waiting, self._buyers = self._buyers, {}
        task = asyncio.ensure_future(self._load_buyers(waiting))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load_buyers(
        self, waiting: dict[int, asyncio.Future[list[SavedMethod] | None]]
    ) -> None:
        try:
            found = await saved_methods_of(self.db, list(waiting))
        except Exception as exc:  # noqa: BLE001 - every waiter hears about it
            for future in waiting.values():
                if not future.done():
                    future.set_exception(exc)
            return
        for uid, future in waiting.items():
            if not future.done():
                future.set_result(found.get(uid))
