"""Group commit: many checkouts' orders written in one SQL transaction.

One writer task per process collects order drafts for a short window
(``settings.order_batch_window_s``) or until ``max_batch`` are waiting, then writes
all their rows (orders, items, payments, commission ledger) in ONE transaction.
Each waiting checkout gets its own outcome: on a unique-constraint clash (a retried
checkout whose order already exists) the batch is retried row by row, so one bad
draft never fails the others. SQLite has one writer; this is what lets it keep up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from livecommerce.db.engine import Database
from livecommerce.db.models import CommissionEntry, Order, OrderItem, Payment
from livecommerce.db.transactions import TransactionRunner

if TYPE_CHECKING:
    from cart.metrics import CartMetrics

__all__ = ["ItemDraft", "OrderDraft", "OrderWriter", "PaymentDraft", "WriteOutcome"]

log = logging.getLogger("livecommerce.cart")


@dataclass(frozen=True)
class ItemDraft:
    product_id: int
    variant_id: int
    quantity: int
    unit_price_minor: int
    commission_bps: int


@dataclass(frozen=True)
class PaymentDraft:
    gateway: str
    authorization_id: str
    status: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class OrderDraft:
    id: str
    user_id: int
    session_id: int | None
    creator_id: int | None
    status: str
    total_minor: int
    currency: str
    idempotency_key: str
    hold_id: str
    shipping_address: dict[str, Any] | None
    payment: PaymentDraft
    items: list[ItemDraft] = field(default_factory=list)
    #: The share link the order is attributed to (livecommerce.creators.attribution).
    link_id: int | None = None


@dataclass(frozen=True)
class WriteOutcome:
    order_id: str
    #: True: an order for this idempotency key / hold already existed (this draft was not
    #: written); the caller must treat its own payment as a duplicate.
    existing: bool = False


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def commission_minor(item: ItemDraft) -> int:
    return item.unit_price_minor * item.quantity * item.commission_bps // 10_000


def insert_drafts(
    session: Connection,
    drafts: list[OrderDraft],
    *,
    now: datetime,
    return_window: timedelta = timedelta(days=30),
) -> None:
    """Insert the rows of ``drafts`` (caller owns the transaction; run it through a
    :class:`~livecommerce.db.transactions.TransactionRunner`). Commission entries are
    ``pending``, payable ``return_window`` after ``now`` (cart/commissions.py).

    Core inserts on a plain connection: an ORM session's per-transaction set-up was
    most of a small batch's cost (cProfile), and these rows need no identity map."""
    session.execute(
        insert(_table(Order)),
        [
            {
                "id": d.id,
                "user_id": d.user_id,
                "session_id": d.session_id,
                "creator_id": d.creator_id,
                "link_id": d.link_id,
                "status": d.status,
                "total_minor": d.total_minor,
                "currency": d.currency,
                "idempotency_key": d.idempotency_key,
                "hold_id": d.hold_id,
                "shipping_address": d.shipping_address,
                "created_at": now,
                "updated_at": now,
            }
            for d in drafts
        ],
    )
    session.execute(
        insert(_table(OrderItem)),
        [
            {
                "order_id": d.id,
                "product_id": i.product_id,
                "variant_id": i.variant_id,
                "quantity": i.quantity,
                "unit_price_minor": i.unit_price_minor,
                "commission_bps": i.commission_bps,
            }
            for d in drafts
            for i in d.items
        ],
    )
    session.execute(
        insert(_table(Payment)),
        [
            {
                "order_id": d.id,
                "gateway": d.payment.gateway,
                "authorization_id": d.payment.authorization_id,
                "status": d.payment.status,
                "amount_minor": d.payment.amount_minor,
                "currency": d.payment.currency,
                "created_at": now,
                "updated_at": now,
            }
            for d in drafts
        ],
    )
    ledger = [
        {
            "order_id": d.id,
            "creator_id": d.creator_id,
            "session_id": d.session_id,
            "product_id": i.product_id,
            "kind": "earned",
            "rate_bps": i.commission_bps,
            "amount_minor": commission_minor(i),
            "currency": d.currency,
            "created_at": now,
            "status": "pending",
            "payable_at": now + return_window,
        }
        for d in drafts
        if d.creator_id is not None
        for i in d.items
    ]
    if ledger:
        session.execute(insert(_table(CommissionEntry)), ledger)


async def existing_order(session: AsyncConnection, draft: OrderDraft) -> str | None:
    """The id of an order that already used this draft's idempotency key or hold."""
    found = await session.scalar(
        select(Order.id).where(
            or_(
                (Order.user_id == draft.user_id) & (Order.idempotency_key == draft.idempotency_key),
                Order.hold_id == draft.hold_id,
            )
        )
    )
    return None if found is None else str(found)


Pending = tuple[OrderDraft, "asyncio.Future[WriteOutcome]"]


class OrderWriter:
    """Call :meth:`start` in the app's lifespan, then :meth:`write` from any request."""

    def __init__(
        self,
        db: Database,
        *,
        window_s: float = 0.005,
        max_batch: int = 500,
        metrics: CartMetrics | None = None,
        clock: Callable[[], float] = time.time,
        return_window_days: int = 30,
    ) -> None:
        self.db = db
        #: Orders are stamped with this clock's time (livecommerce.clock).
        self.clock = clock
        self.return_window = timedelta(days=return_window_days)
        self.metrics = metrics
        self._transactions = TransactionRunner(db)
        self.window_s = window_s
        self.max_batch = max_batch
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Future[None] | None = None
        self._collecting: list[Pending] = []
        self.batches = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="order-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._inflight is not None:
            await self._inflight
        # Checkouts still waiting get their orders written (graceful shutdown loses none).
        batch, self._collecting = self._collecting, []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            await self._write_batch(batch)
        await self._transactions.close()

    async def write(self, draft: OrderDraft) -> WriteOutcome:
        """Returns once the draft's transaction is committed (or raises its error)."""
        if self._task is None:
            return (await self._write_each([draft]))[0]
        future: asyncio.Future[WriteOutcome] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((draft, future))
        # shield: a cancelled request must not cancel the shared batch's future handling
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            self._collecting = [await self._queue.get()]
            if self.window_s > 0:
                await asyncio.sleep(self.window_s)  # the group-commit window
            while len(self._collecting) < self.max_batch and not self._queue.empty():
                self._collecting.append(self._queue.get_nowait())
            batch, self._collecting = self._collecting, []
            # shielded: stopping the writer lets the batch in flight finish (see stop)
            self._inflight = asyncio.ensure_future(self._write_batch(batch))
            await asyncio.shield(self._inflight)

    def _insert(self, drafts: list[OrderDraft]) -> Callable[[Connection], None]:
        now = datetime.fromtimestamp(self.clock(), UTC)
        return partial(insert_drafts, drafts=drafts, now=now, return_window=self.return_window)

    async def _write_batch(self, batch: list[Pending]) -> None:
        drafts = [d for d, _ in batch]
        self.batches += 1
        try:
            await self._transactions.run(self._insert(drafts))
            outcomes: list[WriteOutcome | BaseException] = [WriteOutcome(d.id) for d in drafts]
        except IntegrityError:
            outcomes = await self._write_each_safe(drafts)
        except Exception as exc:  # noqa: BLE001 - every waiter must hear about it
            log.exception("order batch of %d failed", len(drafts))
            outcomes = [exc] * len(drafts)
        if self.metrics is not None:
            written = sum(1 for o in outcomes if isinstance(o, WriteOutcome) and not o.existing)
            self.metrics.batch_written(len(drafts), written)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _write_each_safe(
        self, drafts: list[OrderDraft]
    ) -> list[WriteOutcome | BaseException]:
        results: list[WriteOutcome | BaseException] = []
        for draft in drafts:
            try:
                results.append((await self._write_each([draft]))[0])
            except Exception as exc:  # noqa: BLE001
                results.append(exc)
        return results

    async def _write_each(self, drafts: list[OrderDraft]) -> list[WriteOutcome]:
        out: list[WriteOutcome] = []
        for draft in drafts:
            try:
                await self._transactions.run(self._insert([draft]))
                out.append(WriteOutcome(draft.id))
            except IntegrityError:
                async with self.db.engine.connect() as conn:
                    found = await existing_order(conn, draft)
                if found is None:
                    raise
                out.append(WriteOutcome(found, existing=True))
        return out
