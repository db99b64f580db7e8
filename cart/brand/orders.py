"""A brand's orders: the orders that hold at least one of its products, newest first.

Each order is shown with the brand's own items only (another brand's items in the same
cart are none of its business), the buyer by display name (never the e-mail), the show
and creator it is credited to, and the buyer's refund request if any. Pages are keyed
by an opaque cursor (the last order's time and id), so a page never repeats or skips an
order when new ones arrive.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cart.brand.schemas import BrandOrderItemOut, BrandOrderOut, BrandOrderPage, BrandOrderRef
from livecommerce.db.models import (
    LiveSession,
    Order,
    OrderItem,
    Payment,
    Product,
    User,
    Variant,
)
from livecommerce.errors import BadRequest, Forbidden, NotFound

__all__ = ["OrderFilter", "brand_order", "brand_orders", "decode_cursor", "encode_cursor"]


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    session_id: int | None = None
    creator_id: int | None = None


def encode_cursor(created_at: datetime, order_id: str) -> str:
    raw = f"{created_at.isoformat()}|{order_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, id) a cursor stands for; 400 ``bad_cursor`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, order_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(when)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("cursor: not a cursor this API gave", code="bad_cursor") from None
    if created_at.tzinfo is None or not order_id:
        raise BadRequest("cursor: not a cursor this API gave", code="bad_cursor")
    return created_at, order_id


_ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "country")


def _address(stored: dict[str, Any] | None) -> dict[str, str] | None:
    if not stored:
        return None
    return {k: str(stored.get(k) or "") for k in _ADDRESS_FIELDS}


def _brand_order_ids(brand_id: int) -> Select[Any]:
    return (
        select(OrderItem.order_id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(Product.brand_id == brand_id)
    )


async def brand_orders(
    db: AsyncSession,
    brand_id: int,
    filters: OrderFilter,
    *,
    limit: int,
    cursor: str | None = None,
) -> BrandOrderPage:
    """One page of the brand's orders matching ``filters``, newest first."""
    query = select(Order).where(Order.id.in_(_brand_order_ids(brand_id)))
    if filters.status is not None:
        query = query.where(Order.status == filters.status)
    if filters.start is not None:
        query = query.where(Order.created_at >= filters.start)
    if filters.end is not None:
        query = query.where(Order.created_at < filters.end)
    if filters.session_id is not None:
        query = query.where(Order.session_id == filters.session_id)
    if filters.creator_id is not None:
        query = query.where(Order.creator_id == filters.creator_id)
    if cursor is not None:
        at, last_id = decode_cursor(cursor)
        query = query.where(
            or_(Order.created_at < at, and_(Order.created_at == at, Order.id < last_id))
        )
    rows = list(
        await db.scalars(query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1))
    )
    page, more = rows[:limit], len(rows) > limit
    out = await _views(db, brand_id, page)
    last = page[-1] if page else None
    return BrandOrderPage(
        items=out,
        next_cursor=encode_cursor(last.created_at, last.id) if more and last else None,
    )


async def brand_order(db: AsyncSession, brand_id: int, order_id: str) -> BrandOrderOut:
    """One order as the brand sees it: 404 if there is no such order, 403 if it holds
    none of the brand's products."""
    order = await db.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    views = await _views(db, brand_id, [order])
    if not views[0].items:
        raise Forbidden("this order holds none of your brand's products")
    return views[0]


async def _views(db: AsyncSession, brand_id: int, orders: Sequence[Order]) -> list[BrandOrderOut]:
    if not orders:
        return []
    ids = [o.id for o in orders]
    lines = await db.execute(
        select(OrderItem, Product.brand_id, Product.name, Variant.name)
        .join(Product, Product.id == OrderItem.product_id)
        .join(Variant, Variant.id == OrderItem.variant_id)
        .where(OrderItem.order_id.in_(ids))
        .order_by(OrderItem.id)
    )
    items: dict[str, list[BrandOrderItemOut]] = {i: [] for i in ids}
    foreign: set[str] = set()
    for item, item_brand, product_name, variant_name in lines:
        if item_brand != brand_id:
            foreign.add(item.order_id)
            continue
        items[item.order_id].append(
            BrandOrderItemOut(
                product_id=item.product_id,
                product_name=product_name,
                variant_id=item.variant_id,
                variant_name=variant_name,
                quantity=item.quantity,
                unit_price_minor=item.unit_price_minor,
                commission_bps=item.commission_bps,
            )
        )
    user_ids = {o.user_id for o in orders} | {o.creator_id for o in orders if o.creator_id}
    names: dict[int, str] = {
        int(k): str(v)
        for k, v in await db.execute(
            select(User.id, User.display_name).where(User.id.in_(user_ids))
        )
    }
    show_ids = {o.session_id for o in orders if o.session_id is not None}
    titles: dict[int, str] = {}
    if show_ids:
        titles = {
            int(k): str(v)
            for k, v in await db.execute(
                select(LiveSession.id, LiveSession.title).where(LiveSession.id.in_(show_ids))
            )
        }
    payments: dict[str, str] = {}
    found = await db.execute(
        select(Payment.order_id, Payment.status)
        .where(Payment.order_id.in_(ids))
        .order_by(Payment.id)
    )
    for order_id, status in found:
        payments.setdefault(order_id, status)

    def ref(table: dict[int, str], key: int | None) -> BrandOrderRef | None:
        return None if key is None else BrandOrderRef(id=key, name=table.get(key, ""))

    return [
        BrandOrderOut(
            id=o.id,
            status=o.status,
            currency=o.currency,
            created_at=o.created_at,
            items=items[o.id],
            brand_total_minor=sum(i.unit_price_minor * i.quantity for i in items[o.id]),
            whole_order=o.id not in foreign,
            payment_status=payments.get(o.id),
            ship_to=_address(o.shipping_address) if o.id not in foreign else None,
            buyer=BrandOrderRef(id=o.user_id, name=names.get(o.user_id, "")),
            show=ref(titles, o.session_id),
            creator=ref(names, o.creator_id),
            refund_requested_at=o.refund_requested_at,
            refund_reason=o.refund_reason,
        )
        for o in orders
    ]
