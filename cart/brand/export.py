"""A brand's orders as CSV: one row per item of the brand, with the order's facts.

The same filters as the list (``cart.brand.orders``), newest first, read page by page;
at most :data:`MAX_EXPORT_ORDERS` orders (more: 400 ``export_too_large``, narrow the
period or the filters).
"""

from __future__ import annotations

import csv
import io

from sqlalchemy.ext.asyncio import AsyncSession

from cart.brand.orders import OrderFilter, brand_orders
from cart.brand.sales import csv_cell, decimal_amount
from cart.brand.schemas import BrandOrderOut
from livecommerce.errors import BadRequest

__all__ = ["MAX_EXPORT_ORDERS", "ORDER_CSV_COLUMNS", "SHIP_COLUMNS", "orders_csv"]

MAX_EXPORT_ORDERS = 10_000
_PAGE = 500

#: The shipping address's columns: filled for the orders the brand ships (``whole_order``).
SHIP_COLUMNS = [
    "ship_name",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_postal_code",
    "ship_country",
]

ORDER_CSV_COLUMNS = [
    "order_id",
    "placed_at",
    "status",
    "payment_status",
    "buyer",
    "show_id",
    "show",
    "creator_id",
    "creator",
    "product_id",
    "product",
    "variant",
    "quantity",
    "unit_price",
    "line_total",
    "commission_bps",
    "currency",
    "refund_requested_at",
    "refund_reason",
    *SHIP_COLUMNS,
]


async def orders_csv(db: AsyncSession, brand_id: int, filters: OrderFilter) -> str:
    """The CSV text (RFC 4180, CRLF): a header row, then the orders' items."""
    orders: list[BrandOrderOut] = []
    cursor: str | None = None
    while True:
        page = await brand_orders(db, brand_id, filters, limit=_PAGE, cursor=cursor)
        orders += page.items
        if len(orders) > MAX_EXPORT_ORDERS:
            raise BadRequest(
                f"more than {MAX_EXPORT_ORDERS} orders match: narrow the period or the filters",
                code="export_too_large",
            )
        cursor = page.next_cursor
        if cursor is None:
            break
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ORDER_CSV_COLUMNS)
    for o in orders:
        ship = [
            csv_cell(o.ship_to.get(c.removeprefix("ship_"))) if o.ship_to else ""
            for c in SHIP_COLUMNS
        ]
        for i in o.items:
            writer.writerow(
                [
                    o.id,
                    o.created_at.isoformat(),
                    o.status,
                    o.payment_status or "",
                    csv_cell(o.buyer.name),
                    o.show.id if o.show else "",
                    csv_cell(o.show.name) if o.show else "",
                    o.creator.id if o.creator else "",
                    csv_cell(o.creator.name) if o.creator else "",
                    i.product_id,
                    csv_cell(i.product_name),
                    csv_cell(i.variant_name),
                    i.quantity,
                    decimal_amount(i.unit_price_minor, o.currency),
                    decimal_amount(i.unit_price_minor * i.quantity, o.currency),
                    i.commission_bps,
                    o.currency,
                    o.refund_requested_at.isoformat() if o.refund_requested_at else "",
                    csv_cell(o.refund_reason),
                    *ship,
                ]
            )
    return out.getvalue()
