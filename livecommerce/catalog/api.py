"""HTTP adapters for the catalog: anyone reads, a brand's own users write."""

from __future__ import annotations

from livecommerce.api.common import PageQuery
from livecommerce.api.routing import Api, Call
from livecommerce.catalog import store
from livecommerce.catalog.schemas import (
    BrandIn,
    BrandOut,
    BrandPage,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    ProductQuery,
    ProductStockOut,
    VariantIn,
    VariantOut,
    VariantPatch,
)
from livecommerce.catalog.stock import available
from livecommerce.db.models import Role
from livecommerce.errors import NotFound
from livecommerce.events import ProductAvailabilityChanged, StockTotalChanging
from livecommerce.services import Services

__all__ = ["api"]

api: Api[Services] = Api(tags=["catalog"])


@api.route("GET", "/api/brands", summary="List brands", query=PageQuery, response=BrandPage)
async def list_brands(services: Services, call: Call) -> BrandPage:
    q = call.query_as(PageQuery)
    async with services.db.sessions() as db:
        rows = await store.list_brands(db, limit=q.limit, offset=q.offset)
    return BrandPage(items=[store.brand_out(b) for b in rows], next_offset=q.next_offset(len(rows)))


@api.route(
    "POST",
    "/api/brands",
    summary="Create a brand (admin)",
    body=BrandIn,
    response=BrandOut,
    status=201,
    auth="required",
    errors=[403, 409],
)
async def create_brand(services: Services, call: Call) -> BrandOut:
    call.principal.require_role(Role.ADMIN)
    async with services.db.sessions() as db:
        brand = await store.create_brand(db, call.body_as(BrandIn))
        await db.commit()
    return store.brand_out(brand)


@api.route("GET", "/api/brands/{brand_id:int}", summary="One brand", response=BrandOut)
async def get_brand(services: Services, call: Call) -> BrandOut:
    async with services.db.sessions() as db:
        return store.brand_out(await store.get_brand(db, call.id("brand_id")))


@api.route(
    "GET",
    "/api/products",
    summary="List products (any brand's)",
    query=ProductQuery,
    response=ProductPage,
)
async def list_products(services: Services, call: Call) -> ProductPage:
    q = call.query_as(ProductQuery)
    async with services.db.sessions() as db:
        rows = await store.list_products(
            db, limit=q.limit, offset=q.offset, brand_id=q.brand_id, q=q.q
        )
        items = [store.product_out(p) for p in rows]
    return ProductPage(items=items, next_offset=q.next_offset(len(rows)))


@api.route(
    "POST",
    "/api/brands/{brand_id:int}/products",
    summary="Add a product to a brand's catalog",
    body=ProductIn,
    response=ProductOut,
    status=201,
    auth="required",
    errors=[403, 409],
)
async def create_product(services: Services, call: Call) -> ProductOut:
    brand_id = call.id("brand_id")
    call.principal.require_brand(brand_id)
    async with services.db.sessions() as db:
        product = await store.create_product(db, brand_id, call.body_as(ProductIn))
        await db.commit()
        product = await store.get_product(db, product.id)
        return store.product_out(product)


@api.route(
    "GET",
    "/api/products/{product_id:int}",
    summary="One product with its variants",
    response=ProductOut,
)
async def get_product(services: Services, call: Call) -> ProductOut:
    async with services.db.sessions() as db:
        return store.product_out(await store.get_product(db, call.id("product_id")))


@api.route(
    "GET",
    "/api/products/{product_id:int}/stock",
    summary="Units left of a product still sold, per variant",
    response=ProductStockOut,
    errors=[404],
)
async def product_stock(services: Services, call: Call) -> ProductStockOut:
    product_id = call.id("product_id")
    async with services.db.sessions() as db:
        product = await store.get_product(db, product_id)
        if not product.is_active:
            raise NotFound(f"product {product_id} is no longer sold")
        variants, on_sale = await available(db, services.redis, product_id)
    return ProductStockOut(
        product_id=product_id,
        units_left=sum(variants.values()),
        variants=variants,
        on_sale=on_sale,
    )


@api.route(
    "PATCH",
    "/api/products/{product_id:int}",
    summary="Change a product (its brand only)",
    body=ProductPatch,
    response=ProductOut,
    auth="required",
    errors=[403],
)
async def update_product(services: Services, call: Call) -> ProductOut:
    async with services.db.sessions() as db:
        product = await store.get_product(db, call.id("product_id"))
        call.principal.require_brand(product.brand_id)
        was_active = product.is_active
        await store.update_product(db, product, call.body_as(ProductPatch))
        await db.commit()
        out = store.product_out(await store.get_product(db, product.id))
    if out.is_active != was_active:
        await services.events.publish(ProductAvailabilityChanged(out.id, out.is_active))
    return out


@api.route(
    "DELETE",
    "/api/products/{product_id:int}",
    summary="Withdraw a product (kept for order history)",
    status=204,
    auth="required",
    errors=[403],
)
async def delete_product(services: Services, call: Call) -> None:
    async with services.db.sessions() as db:
        product = await store.get_product(db, call.id("product_id"))
        call.principal.require_brand(product.brand_id)
        product_id, was_active = product.id, product.is_active
        product.is_active = False
        await db.commit()
    if was_active:
        await services.events.publish(ProductAvailabilityChanged(product_id, False))


@api.route(
    "POST",
    "/api/products/{product_id:int}/variants",
    summary="Add a variant",
    body=VariantIn,
    response=VariantOut,
    status=201,
    auth="required",
    errors=[403, 409],
)
async def add_variant(services: Services, call: Call) -> VariantOut:
    async with services.db.sessions() as db:
        product = await store.get_product(db, call.id("product_id"))
        call.principal.require_brand(product.brand_id)
        variant = await store.add_variant(db, product, call.body_as(VariantIn))
        await db.commit()
        return store.variant_out(variant, product)


@api.route(
    "PATCH",
    "/api/variants/{variant_id:int}",
    summary="Change a variant's name, price or stock",
    body=VariantPatch,
    response=VariantOut,
    auth="required",
    errors=[403, 409],
)
async def update_variant(services: Services, call: Call) -> VariantOut:
    async with services.db.sessions() as db:
        variant = await store.get_variant(db, call.id("variant_id"))
        call.principal.require_brand(variant.product.brand_id)
        old_total = variant.stock_total
        await store.update_variant(db, variant, call.body_as(VariantPatch))
        if variant.stock_total != old_total:
            # Sent before the commit: a receiver (the cart) refuses a total below what
            # is already sold or held, and its error rolls the change back.
            await services.events.publish(
                StockTotalChanging(
                    product_id=variant.product_id,
                    variant_id=variant.id,
                    old_total=old_total,
                    new_total=variant.stock_total,
                )
            )
        await db.commit()
        return store.variant_out(variant, variant.product)
