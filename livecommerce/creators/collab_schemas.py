"""Request and response models of collaborations, offers, the marketplace and showcases."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from livecommerce.api.common import Id, MinorUnits, StrictModel

__all__ = [
    "CollaborationOut",
    "MarketItem",
    "MarketPage",
    "MarketQuery",
    "OfferIn",
    "OfferOut",
    "OfferQuery",
    "OfferStatus",
    "RateIn",
    "ShowcaseAdd",
    "ShowcaseEntry",
    "ShowcaseOrder",
    "ShowcaseOut",
]

OfferStatus = Literal["offered", "accepted", "declined", "withdrawn"]
RateBps = Field(
    ge=0, le=10_000, description="Basis points (100 = 1 %); the settings bound the range."
)


class RateIn(StrictModel):
    rate_bps: int = RateBps


class CollaborationOut(BaseModel):
    product_id: int
    brand_id: int
    open: bool = Field(description="Open to all creators now.")
    rate_bps: int | None = Field(description="The open rate in force now (null: not open).")
    pending_rate_bps: int | None = Field(
        description="A cut waiting out the rate lock (null: none; 0: the collaboration closes)."
    )
    pending_from: datetime | None = Field(description="When the pending cut applies.")


class OfferIn(StrictModel):
    creator_id: Id
    rate_bps: int = RateBps


class OfferOut(BaseModel):
    id: int
    product_id: int
    product_name: str
    brand_id: int
    creator_id: int
    rate_bps: int
    status: OfferStatus
    created_at: datetime
    responded_at: datetime | None
    ends_at: datetime | None = Field(
        description="A withdrawn offer applies to attributions that begin before this."
    )


class OfferQuery(StrictModel):
    status: OfferStatus | None = None


class MarketQuery(StrictModel):
    q: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Words; each must start a word of the product's name (any case).",
    )
    brand_id: Id | None = None
    category: str | None = Field(None, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    min_price: MinorUnits | None = None
    max_price: MinorUnits | None = None
    min_rate: int | None = Field(None, ge=0, le=10_000, description="Basis points.")
    sort: Literal["newest", "price_asc", "price_desc", "rate_desc"] = "newest"
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the page before.")
    limit: int = Field(20, ge=1, le=100)


class MarketItem(BaseModel):
    product_id: int
    brand_id: int
    brand_name: str
    name: str
    category: str
    price_minor: int
    currency: str
    image: str | None
    rate_bps: int = Field(description="What you would earn now, basis points.")
    targeted: bool = Field(description="The rate is an offer made to you.")
    in_showcase: bool


class MarketPage(BaseModel):
    items: list[MarketItem]
    next_cursor: str | None


class ShowcaseAdd(StrictModel):
    product_id: Id


class ShowcaseOrder(StrictModel):
    product_ids: list[Id] = Field(max_length=200)


class ShowcaseEntry(BaseModel):
    product_id: int
    brand_id: int
    name: str
    price_minor: int
    currency: str
    image: str | None
    position: int
    rate_bps: int | None = Field(
        description="Yours only: what you earn on it now (null: not open to you any more, "
        "or the public read)."
    )


class ShowcaseOut(BaseModel):
    creator_id: int
    items: list[ShowcaseEntry]
