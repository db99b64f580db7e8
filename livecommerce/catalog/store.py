"""Catalog operations on SQL; plain functions taking an ``AsyncSession``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from livecommerce.catalog.cards import unit_price
from livecommerce.catalog.schemas import (
    BrandIn,
    BrandOut,
    ProductIn,
    ProductOut,
    ProductPatch,
    VariantIn,
    VariantOut,
    VariantPatch,
)
from livecommerce.db.models import Brand, Product, Variant
from livecommerce.errors import Conflict, NotFound

__all__ = [
    "add_variant",
    "brand_out",
    "create_brand",
    "create_product",
    "get_product",
    "get_variant",
    "list_brands",
    "list_products",
    "product_out",
    "update_product",
    "update_variant",
]


def brand_out(brand: Brand) -> BrandOut:
    return BrandOut(id=brand.id, name=brand.name, slug=brand.slug, created_at=brand.created_at)


def variant_out(variant: Variant, product: Product) -> VariantOut:
    return VariantOut(
        id=variant.id,
        product_id=product.id,
        sku=variant.sku,
        name=variant.name,
        price_minor=unit_price(variant.price_minor, product.price_minor),
        stock_total=variant.stock_total,
    )


def product_out(product: Product) -> ProductOut:
    return ProductOut(
        id=product.id,
        brand_id=product.brand_id,
        name=product.name,
        description=product.description,
        images=list(product.images),
        price_minor=product.price_minor,
        currency=product.currency,
        commission_bps=product.commission_bps,
        category=product.category,
        is_active=product.is_active,
        variants=[variant_out(v, product) for v in product.variants],
        created_at=product.created_at,
    )


async def create_brand(db: AsyncSession, data: BrandIn) -> Brand:
    brand = Brand(name=data.name, slug=data.slug)
    db.add(brand)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise Conflict(f"brand slug {data.slug!r} is taken", code="slug_taken") from None
    return brand


async def list_brands(db: AsyncSession, *, limit: int, offset: int) -> Sequence[Brand]:
    rows = await db.scalars(select(Brand).order_by(Brand.id).limit(limit).offset(offset))
    return rows.all()


async def get_brand(db: AsyncSession, brand_id: int) -> Brand:
    brand = await db.get(Brand, brand_id)
    if brand is None:
        raise NotFound(f"brand {brand_id} does not exist")
    return brand


async def create_product(db: AsyncSession, brand_id: int, data: ProductIn) -> Product:
    await get_brand(db, brand_id)
    product = Product(
        brand_id=brand_id,
        name=data.name,
        description=data.description,
        images=list(data.images),
        price_minor=data.price_minor,
        currency=data.currency,
        commission_bps=data.commission_bps,
        category=data.category,
        variants=[_variant(v) for v in data.variants],
    )
    db.add(product)
    await _flush_skus(db)
    return product


def _variant(data: VariantIn) -> Variant:
    return Variant(
        sku=data.sku, name=data.name, price_minor=data.price_minor, stock_total=data.stock_total
    )


async def _flush_skus(db: AsyncSession) -> None:
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise Conflict("a variant with that SKU already exists", code="sku_taken") from None


async def get_product(db: AsyncSession, product_id: int) -> Product:
    product = await db.scalar(
        select(Product).where(Product.id == product_id).options(selectinload(Product.variants))
    )
    if product is None:
        raise NotFound(f"product {product_id} does not exist")
    return product


async def list_products(
    db: AsyncSession, *, limit: int, offset: int, brand_id: int | None = None, q: str | None = None
) -> Sequence[Product]:
    query = select(Product).options(selectinload(Product.variants)).order_by(Product.id)
    if brand_id is not None:
        query = query.where(Product.brand_id == brand_id)
    if q:
        # q is text to find, not a pattern: its % and _ match themselves.
        query = query.where(Product.name.ilike(f"%{_escape_like(q)}%", escape="\\"))
    rows = await db.scalars(query.limit(limit).offset(offset))
    return rows.all()


async def update_product(db: AsyncSession, product: Product, patch: ProductPatch) -> Product:
    # null means "leave as is": every product field is required.
    for name, value in patch.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(product, name, value)
    await db.flush()
    return product


async def add_variant(db: AsyncSession, product: Product, data: VariantIn) -> Variant:
    variant = _variant(data)
    product.variants.append(variant)
    await _flush_skus(db)
    return variant


async def get_variant(db: AsyncSession, variant_id: int) -> Variant:
    variant = await db.scalar(
        select(Variant).where(Variant.id == variant_id).options(selectinload(Variant.product))
    )
    if variant is None:
        raise NotFound(f"variant {variant_id} does not exist")
    return variant


async def update_variant(db: AsyncSession, variant: Variant, patch: VariantPatch) -> Variant:
    # null clears only the price override (back to the product's price).
    for name, value in patch.model_dump(exclude_unset=True).items():
        if value is None and name != "price_minor":
            continue
        setattr(variant, name, value)
    await db.flush()
    return variant


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
