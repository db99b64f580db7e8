"""HTTP adapters: the marketplace and showcases (a creator's own, and the public read)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.api.routing import Api, Call
from livecommerce.creators import marketplace, showcase
from livecommerce.creators.collab_schemas import (
    MarketItem,
    MarketPage,
    MarketQuery,
    ShowcaseAdd,
    ShowcaseEntry,
    ShowcaseOrder,
    ShowcaseOut,
)
from livecommerce.creators.collaborations import roll_due
from livecommerce.db.models import Brand, Product, Role, ShowcaseItem
from livecommerce.services import Services

__all__ = ["api"]

api: Api[Services] = Api(tags=["marketplace"])


def _image(product: Product) -> str | None:
    return str(product.images[0]) if product.images else None


@api.route(
    "GET",
    "/api/marketplace",
    summary="Products open to you, with the rate you would earn (creators)",
    query=MarketQuery,
    response=MarketPage,
    auth="required",
    errors=[401, 403, 422],
)
async def search_marketplace(services: Services, call: Call) -> MarketPage:
    creator_id = call.principal.require_role(Role.HOST)
    q = call.query_as(MarketQuery)
    search = marketplace.Search(
        q=q.q,
        brand_id=q.brand_id,
        category=q.category,
        min_price=q.min_price,
        max_price=q.max_price,
        min_rate=q.min_rate,
        sort=q.sort,
        after=marketplace.decode_cursor(q.sort, q.cursor) if q.cursor else None,
        limit=q.limit,
    )
    async with services.db.sessions() as db:
        now = services.clock.now()
        await roll_due(db, now)
        listings, more = await marketplace.search(db, creator_id, search, now=now)
        ids = [x.product.id for x in listings]
        brands = await _brand_names(db, {x.product.brand_id for x in listings})
        shown = set(
            await db.scalars(
                select(ShowcaseItem.product_id).where(
                    ShowcaseItem.creator_id == creator_id, ShowcaseItem.product_id.in_(ids)
                )
            )
        )
    items = [
        MarketItem(
            product_id=x.product.id,
            brand_id=x.product.brand_id,
            brand_name=brands.get(x.product.brand_id, ""),
            name=x.product.name,
            category=x.product.category,
            price_minor=x.product.price_minor,
            currency=x.product.currency,
            image=_image(x.product),
            rate_bps=x.rate_bps,
            targeted=x.targeted,
            in_showcase=x.product.id in shown,
        )
        for x in listings
    ]
    cursor = marketplace.encode_cursor(q.sort, listings[-1]) if more and listings else None
    return MarketPage(items=items, next_cursor=cursor)


async def _brand_names(db: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await db.execute(select(Brand.id, Brand.name).where(Brand.id.in_(ids)))
    return {bid: name for bid, name in rows}


async def _showcase(
    services: Services, db: AsyncSession, creator_id: int, *, own: bool
) -> ShowcaseOut:
    rows = await showcase.items(db, creator_id, active_only=not own)
    rates = (
        await showcase.open_to(db, creator_id, [p.id for _, p in rows], services.clock.now())
        if own
        else {}
    )
    return ShowcaseOut(
        creator_id=creator_id,
        items=[
            ShowcaseEntry(
                product_id=p.id,
                brand_id=p.brand_id,
                name=p.name,
                price_minor=p.price_minor,
                currency=p.currency,
                image=_image(p),
                position=i.position,
                rate_bps=rates.get(p.id),
            )
            for i, p in rows
        ],
    )


@api.route(
    "GET",
    "/api/me/showcase",
    summary="Your showcase, in order, with what you earn on each (creators)",
    response=ShowcaseOut,
    auth="required",
    errors=[401, 403],
)
async def my_showcase(services: Services, call: Call) -> ShowcaseOut:
    creator_id = call.principal.require_role(Role.HOST)
    async with services.db.sessions() as db:
        return await _showcase(services, db, creator_id, own=True)


@api.route(
    "POST",
    "/api/me/showcase",
    summary="Add a product open to you to the end of your showcase",
    body=ShowcaseAdd,
    response=ShowcaseOut,
    status=201,
    auth="required",
    errors=[401, 403, 409, 422],
)
async def add_to_showcase(services: Services, call: Call) -> ShowcaseOut:
    creator_id = call.principal.require_role(Role.HOST)
    product_id = call.body_as(ShowcaseAdd).product_id
    async with services.db.sessions() as db:
        await showcase.add(db, creator_id, product_id, now=services.clock.now())
        return await _showcase(services, db, creator_id, own=True)


@api.route(
    "PUT",
    "/api/me/showcase",
    summary="Reorder your showcase: every product it holds, in the new order",
    body=ShowcaseOrder,
    response=ShowcaseOut,
    auth="required",
    errors=[401, 403, 422],
)
async def reorder_showcase(services: Services, call: Call) -> ShowcaseOut:
    creator_id = call.principal.require_role(Role.HOST)
    product_ids = call.body_as(ShowcaseOrder).product_ids
    async with services.db.sessions() as db:
        await showcase.reorder(db, creator_id, product_ids)
        return await _showcase(services, db, creator_id, own=True)


@api.route(
    "DELETE",
    "/api/me/showcase/{product_id:int}",
    summary="Take a product out of your showcase",
    status=204,
    auth="required",
    errors=[401, 403, 404],
)
async def remove_from_showcase(services: Services, call: Call) -> None:
    creator_id = call.principal.require_role(Role.HOST)
    async with services.db.sessions() as db:
        await showcase.remove(db, creator_id, call.id("product_id"))


@api.route(
    "GET",
    "/api/creators/{creator_id:int}/showcase",
    summary="A creator's showcase (public): the products still sold, in the creator's order",
    response=ShowcaseOut,
    errors=[404],
)
async def public_showcase(services: Services, call: Call) -> ShowcaseOut:
    creator_id = call.id("creator_id")
    async with services.db.sessions() as db:
        await showcase.creator_exists(db, creator_id)
        return await _showcase(services, db, creator_id, own=False)
