"""A brand's sales by product, show or creator, and the same rows as CSV.

Per group and currency:

- ``gmv_minor``, ``units``: the brand's items in orders that were paid (``paid``,
  ``fulfilled`` or ``refunded``; pending and cancelled orders never sold anything);
- ``refunds``, ``refunds_minor``: how many of those orders were refunded and the value of
  the brand's items in them; ``net_minor`` = ``gmv_minor - refunds_minor``;
- ``commission_owed_minor``: the net of the commission ledger's entries for the brand's
  products in those orders: earned minus reversed (a refund's reversal is a negative
  entry; so is the adjustment a refund after a payout appends).

The period (``start`` ≤ placed < ``end``) is the orders' purchase time, for every figure.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cart.brand.schemas import SalesGroup, SalesRow
from livecommerce.db.models import (
    CommissionEntry,
    LiveSession,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    User,
)

__all__ = ["CSV_COLUMNS", "SOLD", "Sales", "csv_cell", "decimal_amount", "sales", "sales_csv"]

#: Order statuses whose items were sold (a refunded order was sold, then refunded).
SOLD = (OrderStatus.PAID.value, OrderStatus.FULFILLED.value, OrderStatus.REFUNDED.value)

#: Currencies whose minor unit is not a hundredth (ISO 4217); every other has 2 decimals.
_EXPONENT = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0, "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

CSV_COLUMNS = [
    "group",
    "key",
    "label",
    "currency",
    "gmv",
    "units",
    "commission_owed",
    "refunds",
    "refunds_amount",
    "net",
]


@dataclass
class Sales:
    rows: list[SalesRow]
    totals: list[SalesRow] = field(default_factory=list)


def _key(group: SalesGroup) -> InstrumentedAttribute[Any]:
    if group is SalesGroup.PRODUCT:
        return OrderItem.product_id
    if group is SalesGroup.SHOW:
        return Order.session_id
    return Order.creator_id


def _period(start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Order.status.in_(SOLD)]
    if start is not None:
        conditions.append(Order.created_at >= start)
    if end is not None:
        conditions.append(Order.created_at < end)
    return conditions


async def sales(
    db: AsyncSession,
    brand_id: int,
    group: SalesGroup,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Sales:
    """The brand's sales in the period, one row per (group key, currency), biggest
    GMV first, and the totals per currency."""
    key = _key(group)
    value = OrderItem.quantity * OrderItem.unit_price_minor
    refunded = Order.status == OrderStatus.REFUNDED.value
    item_rows = await db.execute(
        select(
            key,
            Product.currency,
            func.sum(value),
            func.sum(OrderItem.quantity),
            func.count(distinct(case((refunded, Order.id)))),
            func.sum(case((refunded, value), else_=0)),
        )
        .select_from(OrderItem)
        .join(Order, Order.id == OrderItem.order_id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(Product.brand_id == brand_id, *_period(start, end))
        .group_by(key, Product.currency)
    )
    ledger_key = CommissionEntry.product_id if group is SalesGroup.PRODUCT else key
    ledger_rows = await db.execute(
        select(ledger_key, CommissionEntry.currency, func.sum(CommissionEntry.amount_minor))
        .select_from(CommissionEntry)
        .join(Order, Order.id == CommissionEntry.order_id)
        .join(Product, Product.id == CommissionEntry.product_id)
        .where(
            Product.brand_id == brand_id,
            *_period(start, end),
        )
        .group_by(ledger_key, CommissionEntry.currency)
    )
    owed = {(k, c): int(s or 0) for k, c, s in ledger_rows}
    rows: dict[tuple[int | None, str], SalesRow] = {}
    for k, currency, gmv, units, refunds, refunds_minor in item_rows:
        gmv, refunds_minor = int(gmv or 0), int(refunds_minor or 0)
        rows[(k, currency)] = SalesRow(
            key=k,
            label=None,
            currency=currency,
            gmv_minor=gmv,
            units=int(units or 0),
            commission_owed_minor=owed.pop((k, currency), 0),
            refunds=int(refunds or 0),
            refunds_minor=refunds_minor,
            net_minor=gmv - refunds_minor,
        )
    for (k, currency), amount in owed.items():  # commission in a currency sold in no item
        rows[(k, currency)] = SalesRow(
            key=k, label=None, currency=currency, gmv_minor=0, units=0,
            commission_owed_minor=amount, refunds=0, refunds_minor=0, net_minor=0,
        )  # fmt: skip
    labels = await _labels(db, group, [k for k, _ in rows if k is not None])
    ordered = sorted(rows.values(), key=lambda r: (-r.gmv_minor, r.currency, r.key or 0))
    for row in ordered:
        row.label = labels.get(row.key) if row.key is not None else None
    return Sales(rows=ordered, totals=_totals(ordered))


async def _labels(db: AsyncSession, group: SalesGroup, keys: Sequence[int]) -> dict[int, str]:
    if not keys:
        return {}
    if group is SalesGroup.PRODUCT:
        query = select(Product.id, Product.name).where(Product.id.in_(keys))
    elif group is SalesGroup.SHOW:
        query = select(LiveSession.id, LiveSession.title).where(LiveSession.id.in_(keys))
    else:
        query = select(User.id, User.display_name).where(User.id.in_(keys))
    return {int(k): str(v) for k, v in await db.execute(query)}


def _totals(rows: Sequence[SalesRow]) -> list[SalesRow]:
    totals: dict[str, SalesRow] = {}
    for r in rows:
        t = totals.setdefault(
            r.currency,
            SalesRow(
                key=None, label=None, currency=r.currency, gmv_minor=0, units=0,
                commission_owed_minor=0, refunds=0, refunds_minor=0, net_minor=0,
            ),
        )  # fmt: skip
        t.gmv_minor += r.gmv_minor
        t.units += r.units
        t.commission_owed_minor += r.commission_owed_minor
        t.refunds += r.refunds
        t.refunds_minor += r.refunds_minor
        t.net_minor += r.net_minor
    return sorted(totals.values(), key=lambda r: r.currency)


def decimal_amount(minor: int, currency: str) -> str:
    """``1234`` USD → ``"12.34"``: exact text of a minor-unit amount, no float."""
    exponent = _EXPONENT.get(currency, 2)
    if exponent == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{part:0{exponent}d}"


def csv_cell(text: str | None) -> str:
    """A text cell a spreadsheet shows as text (None: empty)."""
    # A spreadsheet runs a cell that starts with = + - @ as a formula: a product named
    # "=HYPERLINK(...)" must stay text (OWASP "CSV injection").
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text or ""


def sales_csv(group: SalesGroup, report: Sales) -> str:
    """The report as CSV (RFC 4180, CRLF line ends): a header row, then one row per
    group key and currency; amounts as decimals in the currency's unit (``12.34``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in report.rows:
        writer.writerow(
            [
                group.value,
                "" if r.key is None else r.key,
                csv_cell(r.label),
                r.currency,
                decimal_amount(r.gmv_minor, r.currency),
                r.units,
                decimal_amount(r.commission_owed_minor, r.currency),
                r.refunds,
                decimal_amount(r.refunds_minor, r.currency),
                decimal_amount(r.net_minor, r.currency),
            ]
        )
    return out.getvalue()
