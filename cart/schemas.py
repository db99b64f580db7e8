"""Request/response models of the cart, checkout, orders and earnings endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from livecommerce.api.common import StrictModel

__all__ = [
    "BuyIn",
    "CartItemIn",
    "CartItemPatch",
    "CartLineOut",
    "CartOut",
    "CheckoutIn",
    "EarningEntryOut",
    "EarningsOut",
    "OrderItemOut",
    "OrderOut",
    "OrderPage",
    "OrderQuery",
    "PaymentMethodIn",
    "RefundRequestIn",
    "TestCardOut",
]

Quantity = Field(ge=1, le=99, description="Units of the variant.")

ATTRIBUTION = (
    "The signed attribution token of a share-link click (the value of the lc_attr cookie "
    "GET /l/{code} sets), for clients that keep no cookies; the cookie is read too and the "
    "latest valid click wins; an invalid or expired one is ignored."
)


class CartItemIn(StrictModel):
    product_id: int = Field(ge=1)
    variant_id: int = Field(ge=1)
    quantity: int = Quantity
    #: The live session the viewer was watching (orders credit its creator).
    session_id: int | None = Field(None, ge=1)


class CartItemPatch(StrictModel):
    quantity: int = Field(ge=0, le=99, description="New quantity; 0 removes the line.")


class CartLineOut(BaseModel):
    product_id: int
    variant_id: int
    product_name: str
    variant_name: str
    quantity: int
    unit_price_minor: int
    line_total_minor: int
    currency: str


class CartOut(BaseModel):
    lines: list[CartLineOut]
    item_count: int
    #: Sum at normal prices; a flash price is applied at checkout, server-side.
    total_minor: int
    currency: str | None
    session_id: int | None


class CheckoutIn(StrictModel):
    session_id: int | None = Field(
        None, ge=1, description="Overrides the session recorded with the cart."
    )
    payment_method_id: int | None = Field(
        None, ge=1, description="A saved payment method; default: the user's default one."
    )
    attribution: str | None = Field(None, max_length=512, description=ATTRIBUTION)


class BuyIn(StrictModel):
    product_id: int = Field(ge=1)
    variant_id: int = Field(ge=1)
    quantity: int = Quantity
    session_id: int | None = Field(None, ge=1, description="The live session bought from.")
    payment_method_id: int | None = Field(None, ge=1)
    attribution: str | None = Field(None, max_length=512, description=ATTRIBUTION)


class OrderItemOut(BaseModel):
    product_id: int
    variant_id: int
    quantity: int
    unit_price_minor: int
    commission_bps: int


class OrderOut(BaseModel):
    id: str
    status: str
    total_minor: int
    currency: str
    session_id: int | None
    creator_id: int | None
    #: The share link (``POST /api/links``) the order is attributed to, if any.
    link_id: int | None = None
    payment_status: str | None
    items: list[OrderItemOut]
    created_at: datetime
    #: When the buyer asked for a refund (``POST /api/orders/{id}/refund-request``).
    refund_requested_at: datetime | None = None
    refund_reason: str | None = None


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_offset: int | None


class OrderQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=1_000_000)


class PaymentMethodIn(StrictModel):
    token: str = Field(min_length=1, max_length=200, description="A test card, e.g. pm_card_visa.")
    gateway: str = Field("test", pattern=r"^[a-z]{1,32}$")
    is_default: bool = True


class RefundRequestIn(StrictModel):
    reason: str = Field("", max_length=500, description="Why (optional), for the seller.")


class TestCardOut(BaseModel):
    __test__ = False  # not a pytest test class

    token: str
    brand: str
    last4: str
    #: What the test gateway does with it: ok, card_declined, insufficient_funds, slow,
    #: capture_fails.
    behaviour: str


class EarningEntryOut(BaseModel):
    order_id: str
    session_id: int | None
    product_id: int
    kind: str
    rate_bps: int
    amount_minor: int
    currency: str
    created_at: datetime


class EarningsOut(BaseModel):
    #: Net earnings per currency (earned minus reversed).
    totals: dict[str, int]
    entries: list[EarningEntryOut]
