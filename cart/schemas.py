"""Request/response models of the cart, checkout, orders and earnings endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from livecommerce.api.common import Id, StrictModel

__all__ = [
    "BuyIn",
    "CartItemIn",
    "CartItemPatch",
    "CartLineOut",
    "CartOut",
    "CheckoutIn",
    "EarningEntryOut",
    "EarningsGroupOut",
    "EarningsOut",
    "LinkEarningsOut",
    "OrderItemOut",
    "OrderOut",
    "OrderPage",
    "PaymentMethodIn",
    "RefundRequestIn",
    "ShowEarningsOut",
    "TestCardOut",
]

Quantity = Field(ge=1, le=99, description="Units of the variant.")

ATTRIBUTION = (
    "The signed attribution token of a share-link click (the value of the lc_attr cookie "
    "GET /l/{code} sets), for clients that keep no cookies; the cookie is read too and the "
    "latest valid click wins; an invalid or expired one is ignored."
)


class CartItemIn(StrictModel):
    product_id: Id
    variant_id: Id
    quantity: int = Quantity
    #: The live session the viewer was watching (orders credit its creator).
    session_id: Id | None = None


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
    session_id: Id | None = Field(None, description="Overrides the session recorded with the cart.")
    payment_method_id: Id | None = Field(
        None, description="A saved payment method; default: the user's default one."
    )
    attribution: str | None = Field(None, description=ATTRIBUTION)


class BuyIn(StrictModel):
    product_id: Id
    variant_id: Id
    quantity: int = Quantity
    session_id: Id | None = Field(None, description="The live session bought from.")
    payment_method_id: Id | None = None
    attribution: str | None = Field(None, description=ATTRIBUTION)


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
    id: int
    order_id: str
    session_id: int | None
    product_id: int
    #: earned, reversed (a refund before a payout) or adjustment (a refund after one).
    kind: str
    rate_bps: int
    amount_minor: int
    currency: str
    created_at: datetime
    #: pending, payable, paid or reversed (cart/commissions.py).
    status: str
    payable_at: datetime
    payout_id: str | None


class EarningsGroupOut(BaseModel):
    #: Earned, still inside the return window.
    pending_minor: int
    #: Past the window, not yet paid (adjustments of refunds after a payout count here).
    payable_minor: int
    paid_minor: int
    #: Earned and then reversed by a refund.
    reversed_minor: int
    #: Orders that earned a commission.
    orders: int


class ShowEarningsOut(EarningsGroupOut):
    #: None: orders not bought in a show.
    session_id: int | None
    currency: str


class LinkEarningsOut(EarningsGroupOut):
    #: None for a link that has sold nothing yet.
    currency: str | None
    #: None: orders not attributed to a link (a show, or before links existed).
    link_id: int | None
    code: str | None
    clicks: int
    unique_visitors: int
    #: orders / clicks (0 without clicks).
    conversion: float


class EarningsOut(BaseModel):
    #: Net earnings per currency (earned minus reversed, plus adjustments).
    totals: dict[str, int]
    #: Per currency: totals = pending + payable + paid.
    pending: dict[str, int]
    payable: dict[str, int]
    paid: dict[str, int]
    reversed: dict[str, int]
    by_show: list[ShowEarningsOut]
    by_link: list[LinkEarningsOut]
    #: The latest entries, newest first.
    entries: list[EarningEntryOut]
