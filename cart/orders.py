"""Orders in SQL after checkout: the state machine, history, fulfil, refund.

States (``OrderStatus``)::

    pending --> paid --> fulfilled
       |         |           |
       v         v           v
    cancelled  refunded <----+        (paid -> cancelled too)

Checkout writes orders as ``paid`` (the payment is captured before the write);
``pending`` is for gateways that confirm later. A refund reverses the creator's
commission in the same transaction (negative ``reversed`` ledger entries) and, once
committed, returns the units to the stock on sale.

Every committed creation or status change is told to the buyer's live connections
through :meth:`cart.orderfeed.OrderFeed.changed`, once, after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from cart.commissions import reverse_order
from cart.orderfeed import OrderFeed
from cart.payments import GatewayDeclined, PaymentGateway
from cart.returns import check_refund_request
from cart.schemas import OrderItemOut, OrderOut
from cart.stock import StockStore
from livecommerce.auth.permissions import Principal
from livecommerce.db.engine import Database
from livecommerce.db.models import (
    Order,
    OrderStatus,
    Payment,
    Product,
    utcnow,
)
from livecommerce.errors import Conflict, Forbidden, NotFound, PaymentFailed

__all__ = [
    "TRANSITIONS",
    "fulfil_order",
    "get_order",
    "list_orders",
    "order_out",
    "refund_order",
    "request_refund",
    "transition",
]

TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset(
        {OrderStatus.FULFILLED, OrderStatus.REFUNDED, OrderStatus.CANCELLED}
    ),
    OrderStatus.FULFILLED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}


def transition(order: Order, to: OrderStatus) -> None:
    """Move ``order`` to ``to`` or raise 409 ``bad_transition`` (the code sessions use too)."""
    if to not in TRANSITIONS.get(order.status, frozenset()):
        raise Conflict(
            f"an order that is {order.status} cannot become {to.value}",
            code="bad_transition",
        )
    order.status = to.value
    order.updated_at = utcnow()


class _ItemLike(Protocol):
    @property
    def product_id(self) -> int: ...
    @property
    def variant_id(self) -> int: ...
    @property
    def quantity(self) -> int: ...
    @property
    def unit_price_minor(self) -> int: ...
    @property
    def commission_bps(self) -> int: ...


class OrderLike(Protocol):
    """A stored :class:`Order` or checkout's :class:`~cart.writer.OrderDraft`."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def total_minor(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def session_id(self) -> int | None: ...
    @property
    def creator_id(self) -> int | None: ...
    @property
    def link_id(self) -> int | None: ...
    @property
    def items(self) -> Sequence[_ItemLike]: ...


def order_out(
    order: OrderLike,
    payment_status: str | None,
    created_at: datetime,
    *,
    refund_requested_at: datetime | None = None,
    refund_reason: str | None = None,
) -> OrderOut:
    """The API's view of an order, stored or just written."""
    return OrderOut(
        id=order.id,
        status=order.status,
        total_minor=order.total_minor,
        currency=order.currency,
        session_id=order.session_id,
        creator_id=order.creator_id,
        link_id=order.link_id,
        payment_status=payment_status,
        items=[
            OrderItemOut(
                product_id=i.product_id,
                variant_id=i.variant_id,
                quantity=i.quantity,
                unit_price_minor=i.unit_price_minor,
                commission_bps=i.commission_bps,
            )
            for i in order.items
        ],
        created_at=created_at,
        refund_requested_at=refund_requested_at,
        refund_reason=refund_reason,
    )


def _stored_out(order: Order, payment: Payment | None) -> OrderOut:
    return order_out(
        order,
        payment.status if payment else None,
        order.created_at,
        refund_requested_at=order.refund_requested_at,
        refund_reason=order.refund_reason,
    )


async def _payment(db: AsyncSession, order_id: str) -> Payment | None:
    return await db.scalar(select(Payment).where(Payment.order_id == order_id).order_by(Payment.id))


async def _load(db: AsyncSession, order_id: str, *, lock: bool = False) -> Order:
    query = select(Order).where(Order.id == order_id).options(selectinload(Order.items))
    if lock:
        query = query.with_for_update()
    order = await db.scalar(query)
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    return order


async def get_order(db: AsyncSession, principal: Principal, order_id: str) -> OrderOut:
    """The buyer's own order; the brand that sold it and admins see it too (to act on a
    refund request). Others get 404, not 403 (I6: no probing)."""
    user_id = principal.require_user()
    order = await _load(db, order_id)
    if order.user_id != user_id and not await _sold_by(db, principal, order):
        raise NotFound(f"order {order_id} does not exist")
    return _stored_out(order, await _payment(db, order.id))


async def list_orders(db: AsyncSession, user_id: int, *, limit: int, offset: int) -> list[OrderOut]:
    rows = await db.scalars(
        select(Order)
        .where(Order.user_id == user_id)
        .order_by(Order.created_at.desc(), Order.id)
        .limit(limit)
        .offset(offset)
        .options(selectinload(Order.items))
    )
    orders = list(rows)
    payments: dict[str, Payment] = {}
    if orders:
        for p in await db.scalars(
            select(Payment).where(Payment.order_id.in_([o.id for o in orders]))
        ):
            payments.setdefault(p.order_id, p)
    return [_stored_out(o, payments.get(o.id)) for o in orders]


async def _sold_by(db: AsyncSession, principal: Principal, order: Order) -> bool:
    """Admins, or a brand user whose brand sells every product of the order."""
    if principal.is_admin:
        return True
    if principal.brand_id is None:
        return False
    brands = set(
        await db.scalars(
            select(Product.brand_id).where(Product.id.in_([i.product_id for i in order.items]))
        )
    )
    return brands == {principal.brand_id}


async def _require_seller(db: AsyncSession, principal: Principal, order: Order) -> None:
    principal.require_user()
    if not await _sold_by(db, principal, order):
        raise Forbidden("only an admin or the brand that sold the order may do this")


async def request_refund(
    db: Database,
    principal: Principal,
    order_id: str,
    *,
    reason: str,
    now: datetime,
    window_days: int,
) -> tuple[OrderOut, bool]:
    """The buyer asks for a refund of their own order (others: 404): recorded on the
    order for the seller to act on (:mod:`cart.returns` has the rule). Returns the order
    and whether this call recorded the request (False: it was already asked)."""
    user_id = principal.require_user()
    async with db.sessions() as session, session.begin():
        order = await _load(session, order_id, lock=True)
        if order.user_id != user_id:
            raise NotFound(f"order {order_id} does not exist")
        recorded = check_refund_request(
            status=order.status,
            purchased_at=order.created_at,
            requested_at=order.refund_requested_at,
            now=now,
            window_days=window_days,
        )
        if recorded:
            order.refund_requested_at = now
            order.refund_reason = reason or None
        payment = await _payment(session, order.id)
        out = _stored_out(order, payment)
    return out, recorded


async def fulfil_order(
    db: Database, feed: OrderFeed, principal: Principal, order_id: str
) -> OrderOut:
    async with db.sessions() as session, session.begin():
        order = await _load(session, order_id, lock=True)
        await _require_seller(session, principal, order)
        transition(order, OrderStatus.FULFILLED)
    await feed.changed(order.user_id, order.id, order.status)
    async with db.sessions() as session:
        return _stored_out(order, await _payment(session, order_id))


async def refund_order(
    db: Database,
    feed: OrderFeed,
    stock: StockStore,
    gateway_for: Callable[[str], PaymentGateway],
    principal: Principal,
    order_id: str,
    *,
    now: datetime | None = None,
) -> OrderOut:
    """Refund in full: order -> refunded, payment refunded, commission reversed (or, if
    already paid out, adjusted: cart/commissions.py) at ``now`` (the app's clock), all in
    one transaction (the gateway refund runs inside it, so a gateway error rolls back);
    then the buyer is told (``feed``) and the units go back on sale."""
    async with db.sessions() as session, session.begin():
        order = await _load(session, order_id, lock=True)
        await _require_seller(session, principal, order)
        transition(order, OrderStatus.REFUNDED)
        payment = await _payment(session, order.id)
        await reverse_order(session, order.id, now=now or utcnow())
        if payment is not None:
            try:
                await gateway_for(payment.gateway).refund(
                    payment.authorization_id, payment.amount_minor
                )
            except GatewayDeclined as exc:
                raise PaymentFailed(exc.message, code=exc.code) from exc
            payment.status = "refunded"
            payment.updated_at = utcnow()
        items = [(i.product_id, i.variant_id, i.quantity) for i in order.items]
    await feed.changed(order.user_id, order.id, order.status)
    by_product: dict[int, dict[int, int]] = {}
    for product_id, variant_id, quantity in items:
        lines = by_product.setdefault(product_id, {})
        lines[variant_id] = lines.get(variant_id, 0) + quantity
    for product_id, lines in by_product.items():
        await stock.unsell(product_id, lines)
    async with db.sessions() as session:
        return _stored_out(await _load(session, order_id), await _payment(session, order_id))
