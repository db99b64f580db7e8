"""Catalog request/response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from livecommerce.api.common import CurrencyCode, Id, MinorUnits, PageQuery, StrictModel

__all__ = [
    "BrandIn",
    "BrandOut",
    "BrandPage",
    "ProductIn",
    "ProductOut",
    "ProductPage",
    "ProductPatch",
    "ProductQuery",
    "ProductStockOut",
    "VariantIn",
    "VariantOut",
    "VariantPatch",
]

Stock = Field(0, ge=0, le=10_000_000, description="Units in stock (total ever sellable).")
CommissionBps = Field(0, ge=0, le=10_000, description="Affiliate commission, basis points.")
#: The marketplace's category filter: lowercase letters, digits and dashes ("": none).
Category = Field("", max_length=64, pattern=r"^([a-z0-9][a-z0-9-]*)?$")


class BrandIn(StrictModel):
    name: str = Field(min_length=1, max_length=120)
    slug: str = Field(min_length=1, max_length=120, pattern=r"^[a-z0-9][a-z0-9-]*$")


class BrandOut(BaseModel):
    id: int
    name: str
    slug: str
    created_at: datetime


class BrandPage(BaseModel):
    items: list[BrandOut]
    next_offset: int | None


class VariantIn(StrictModel):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=120)
    price_minor: MinorUnits | None = None
    stock_total: int = Stock


class VariantPatch(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=120)
    price_minor: MinorUnits | None = None
    stock_total: int | None = Field(None, ge=0, le=10_000_000)


class VariantOut(BaseModel):
    id: int
    product_id: int
    sku: str
    name: str
    price_minor: int
    stock_total: int


class ProductIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    images: list[str] = Field(default_factory=list, max_length=10)
    price_minor: MinorUnits
    currency: CurrencyCode
    commission_bps: int = CommissionBps
    category: str = Category
    variants: list[VariantIn] = Field(min_length=1, max_length=100)


class ProductPatch(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    images: list[str] | None = Field(None, max_length=10)
    price_minor: MinorUnits | None = None
    commission_bps: int | None = Field(None, ge=0, le=10_000)
    category: str | None = Field(None, max_length=64, pattern=r"^([a-z0-9][a-z0-9-]*)?$")
    is_active: bool | None = None


class ProductOut(BaseModel):
    id: int
    brand_id: int
    name: str
    description: str
    images: list[str]
    price_minor: int
    currency: str
    commission_bps: int
    category: str
    is_active: bool
    variants: list[VariantOut]
    created_at: datetime


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_offset: int | None


class ProductQuery(PageQuery):
    brand_id: Id | None = None
    q: str | None = Field(None, min_length=1, max_length=100, description="Name contains.")


class ProductStockOut(BaseModel):
    product_id: int
    units_left: int = Field(description="Units left of the whole product.")
    variants: dict[int, int] = Field(description="Variant id -> units left.")
    on_sale: bool = Field(
        description="True: the live figure from the cart's stock counters (the product is "
        "on sale); false: stock_total minus units in orders that are not cancelled/refunded."
    )
