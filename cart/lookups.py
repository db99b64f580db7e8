"""What checkout reads from SQL: products (briefly cached), sessions, the buyer.

Prices and commission rates come from here, never from the client. Product and
session facts are cached for ``ttl_s`` (default 1 s) per process: a flash sale reads
the same product thousands of times a second, and a price change still applies
within a second. The buyer's address and payment method are read fresh, batched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from livecommerce.db.engine import Database
from livecommerce.db.models import LiveSession, PaymentMethod, Product, User
from livecommerce.errors import Conflict, NotFound

__all__ = ["Buyer", "Lookups", "ProductInfo", "SavedMethod", "SessionInfo", "VariantInfo"]

T = TypeVar("T")


@dataclass(frozen=True)
class VariantInfo:
    id: int
    name: str
    price_minor: int


@dataclass(frozen=True)
class ProductInfo:
    id: int
    name: str
    brand_id: int
    currency: str
    commission_bps: int
    is_active: bool
    variants: dict[int, VariantInfo]

    def variant(self, variant_id: int) -> VariantInfo:
        found = self.variants.get(variant_id)
        if found is None:
            raise NotFound(f"product {self.id} has no variant {variant_id}")
        return found


@dataclass(frozen=True)
class SessionInfo:
    id: int
    host_id: int
    status: str


@dataclass(frozen=True)
class SavedMethod:
    id: int | None
    gateway: str
    token: str
    address: dict[str, Any] | None


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
        batch_window_s: float = 0.005,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.batch_window_s = batch_window_s
        self.clock = clock
        self._products: dict[int, tuple[float, asyncio.Future[ProductInfo | None]]] = {}
        self._sessions: dict[int, tuple[float, asyncio.Future[SessionInfo | None]]] = {}
        self._buyers: dict[int, asyncio.Future[list[SavedMethod] | None]] = {}
        self._flush: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[None]] = set()

    async def _cached(
        self,
        cache: dict[int, tuple[float, asyncio.Future[T | None]]],
        key: int,
        load: Callable[[int], Awaitable[T | None]],
    ) -> T | None:
        # Single flight: concurrent misses share one SQL query instead of a stampede.
        now = self.clock()
        cached = cache.get(key)
        if cached is None or cached[0] < now:
            future: asyncio.Future[T | None] = asyncio.ensure_future(load(key))
            cached = (now + self.ttl_s, future)
            cache[key] = cached
            future.add_done_callback(
                lambda f: cache.pop(key, None) if f.cancelled() or f.exception() else None
            )
        return await asyncio.shield(cached[1])

    async def product(self, product_id: int) -> ProductInfo:
        """The product (404 if missing or withdrawn)."""
        info = await self._cached(self._products, product_id, self._load_product)
        if info is None or not info.is_active:
            raise NotFound(f"product {product_id} does not exist or is no longer sold")
        return info

    async def _load_product(self, product_id: int) -> ProductInfo | None:
        async with self.db.sessions() as session:
            p = await session.scalar(
                select(Product)
                .where(Product.id == product_id)
                .options(selectinload(Product.variants))
            )
        if p is None:
            return None
        return ProductInfo(
            id=p.id,
            name=p.name,
            brand_id=p.brand_id,
            currency=p.currency,
            commission_bps=p.commission_bps,
            is_active=p.is_active,
            variants={
                v.id: VariantInfo(
                    v.id, v.name, v.price_minor if v.price_minor is not None else p.price_minor
                )
                for v in p.variants
            },
        )

    def forget(self, product_id: int) -> None:
        self._products.pop(product_id, None)

    async def session(self, session_id: int) -> SessionInfo:
        info = await self._cached(self._sessions, session_id, self._load_session)
        if info is None:
            raise NotFound(f"live session {session_id} does not exist")
        return info

    async def _load_session(self, session_id: int) -> SessionInfo | None:
        async with self.db.sessions() as db:
            row = (
                await db.execute(
                    select(LiveSession.host_id, LiveSession.status).where(
                        LiveSession.id == session_id
                    )
                )
            ).first()
        return SessionInfo(session_id, int(row[0]), str(row[1])) if row else None

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
            found: dict[int, list[SavedMethod]] = {}
            # A Core connection, not an ORM session: plain columns need no identity map,
            # and the ORM's per-query set-up was ~1.6 ms of CPU per batch (py-spy).
            async with self.db.engine.connect() as db:
                rows = await db.execute(
                    select(
                        User.id,
                        User.shipping_address,
                        PaymentMethod.id,
                        PaymentMethod.gateway,
                        PaymentMethod.token,
                    )
                    .outerjoin(PaymentMethod, PaymentMethod.user_id == User.id)
                    .where(User.id.in_(list(waiting)))
                    .order_by(User.id, PaymentMethod.is_default.desc(), PaymentMethod.id.desc())
                )
                for uid, address, mid, gateway, token in rows.tuples():
                    found.setdefault(int(uid), []).append(
                        SavedMethod(mid, gateway or "", token or "", address)
                    )
        except Exception as exc:  # noqa: BLE001 - every waiter hears about it
            for future in waiting.values():
                if not future.done():
                    future.set_exception(exc)
            return
        for uid, future in waiting.items():
            if not future.done():
                future.set_result(found.get(uid))
