"""Request/response models of the brand console (``/api/brand/...``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from livecommerce.api.common import Id, IsoDatetime, StrictModel
from livecommerce.db.models import OrderStatus

__all__ = [
    "BrandOrderExportQuery",
    "BrandOrderItemOut",
    "BrandOrderOut",
    "BrandOrderPage",
    "BrandOrderQuery",
    "BrandOrderRef",
    "BrandQuery",
    "SalesGroup",
    "SalesQuery",
    "SalesReport",
    "SalesRow",
]

_BRAND_ID = Field(
    None, description="The brand to read: admins must name it; a brand user may omit it."
)
_FROM = Field(
    None,
    alias="from",
    description="Orders placed at or after this instant (ISO 8601 with a zone, e.g. "
    "2026-11-28T00:00:00Z).",
)
_TO = Field(None, alias="to", description="Orders placed before this instant (exclusive).")


class BrandQuery(StrictModel):
    brand_id: Id | None = _BRAND_ID


class BrandOrderExportQuery(StrictModel):
    brand_id: Id | None = _BRAND_ID
    status: OrderStatus | None = Field(None, description="Only orders in this status.")
    start: IsoDatetime | None = _FROM
    end: IsoDatetime | None = _TO
    session_id: Id | None = Field(None, description="Only orders bought in this show.")
    creator_id: Id | None = Field(None, description="Only orders credited to this creator.")


class BrandOrderQuery(BrandOrderExportQuery):
    cursor: str | None = Field(
        None, max_length=200, description="`next_cursor` of the previous page."
    )
    limit: int = Field(20, ge=1, le=100, description="Orders per page.")


class SalesGroup(StrEnum):
    PRODUCT = "product"
    SHOW = "show"
    CREATOR = "creator"


class SalesQuery(StrictModel):
    brand_id: Id | None = _BRAND_ID
    group: SalesGroup = Field(
        SalesGroup.PRODUCT, description="One row per product, show or creator."
    )
    start: IsoDatetime | None = _FROM
    end: IsoDatetime | None = _TO


class BrandOrderRef(BaseModel):
    """Someone or something an order refers to: a user (by display name) or a show."""

    id: int
    name: str


class BrandOrderItemOut(BaseModel):
    product_id: int
    product_name: str
    variant_id: int
    variant_name: str
    quantity: int
    unit_price_minor: int
    commission_bps: int


class BrandOrderOut(BaseModel):
    id: str
    status: str
    currency: str
    created_at: datetime
    #: The order's items of this brand only, and their value.
    items: list[BrandOrderItemOut]
    brand_total_minor: int
    #: True when every item of the order is this brand's: only then may the brand fulfil
    #: or refund it (``POST /api/orders/{id}/fulfil|refund``); else an admin does.
    whole_order: bool
    payment_status: str | None
    #: Where to ship (``{name, line1, line2, city, postal_code, country}``), for orders the
    #: brand ships itself (``whole_order``); null otherwise, or if none was recorded.
    ship_to: dict[str, str] | None
    buyer: BrandOrderRef
    show: BrandOrderRef | None
    creator: BrandOrderRef | None
    refund_requested_at: datetime | None
    refund_reason: str | None


class BrandOrderPage(BaseModel):
    items: list[BrandOrderOut]
    #: Pass as ``cursor`` for the next (older) page; null on the last page.
    next_cursor: str | None


class SalesRow(BaseModel):
    #: The product, show or creator id; null for orders with no show / no creator.
    key: int | None
    #: Product name, show title or creator display name (null when ``key`` is).
    label: str | None
    currency: str
    #: Value and units sold in paid, fulfilled or refunded orders (refunded ones included).
    gmv_minor: int
    units: int
    #: Commission on these sales: the net of their ledger entries (earned minus reversed).
    commission_owed_minor: int
    #: Refunded orders holding these sales, and the value of their items.
    refunds: int
    refunds_minor: int
    #: ``gmv_minor - refunds_minor``.
    net_minor: int


class SalesReport(BaseModel):
    brand_id: int
    group: SalesGroup
    rows: list[SalesRow]
    #: The same figures over all rows, one per currency.
    totals: list[SalesRow]
