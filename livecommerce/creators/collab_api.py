"""HTTP adapters: a brand's open collaborations and targeted offers, a creator's answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.api.routing import Api, Call, Handler
from livecommerce.creators import collaborations as collabs
from livecommerce.creators.collab_schemas import (
    CollaborationOut,
    OfferIn,
    OfferOut,
    OfferQuery,
    OfferStatus,
    RateIn,
)
from livecommerce.db.models import CollabOffer, Collaboration, Product, Role
from livecommerce.errors import NotFound
from livecommerce.services import Services

__all__ = ["api"]

api: Api[Services] = Api(tags=["collaborations"])

_ALL: tuple[OfferStatus, ...] = ("offered", "accepted", "declined", "withdrawn")


def _collab_out(product: Product, collab: Collaboration | None) -> CollaborationOut:
    return CollaborationOut(
        product_id=product.id,
        brand_id=product.brand_id,
        open=collab is not None,
        rate_bps=collab.rate_bps if collab else None,
        pending_rate_bps=collab.pending_rate_bps if collab else None,
        pending_from=collab.pending_from if collab else None,
    )


def _offer_out(offer: CollabOffer, product: Product) -> OfferOut:
    return OfferOut(
        id=offer.id,
        product_id=offer.product_id,
        product_name=product.name,
        brand_id=offer.brand_id,
        creator_id=offer.creator_id,
        rate_bps=offer.rate_bps,
        status=offer.status,
        created_at=offer.created_at,
        responded_at=offer.responded_at,
        ends_at=offer.ends_at,
    )


async def _product(db: AsyncSession, product_id: int) -> Product:
    product = await db.get(Product, product_id)
    if product is None:
        raise NotFound(f"product {product_id} does not exist")
    return product


async def _brand_product(db: AsyncSession, call: Call, now: datetime) -> Product:
    """The route's product for a change to its open collaboration: only its brand may make
    one, and the cuts due by ``now`` are applied first, so the change starts from the rate
    in force."""
    product = await _product(db, call.id("product_id"))
    call.principal.require_brand(product.brand_id)
    await collabs.roll_due(db, now)
    return product


def _offer_route(
    method: str, path: str, summary: str
) -> Callable[[Handler[Services]], Handler[Services]]:
    """The routes that act on one offer (answer or withdraw it) answer alike: the offer as
    it is after, or why not (not signed in, not its creator or brand, no such offer, or
    not in a state that allows it)."""
    return api.route(
        method,
        path,
        summary=summary,
        response=OfferOut,
        auth="required",
        errors=[401, 403, 404, 409],
    )


def _listing_route(path: str, summary: str) -> Callable[[Handler[Services]], Handler[Services]]:
    """The offer listings (a brand's, a creator's) take the same query and answer alike."""
    return api.route(
        "GET",
        path,
        summary=summary,
        query=OfferQuery,
        response=list[OfferOut],
        auth="required",
        errors=[401, 403],
    )


def _statuses(call: Call) -> Sequence[OfferStatus]:
    """The statuses an offer listing asks for: the one its query names, or all."""
    status = call.query_as(OfferQuery).status
    return [status] if status else _ALL


@api.route(
    "GET",
    "/api/products/{product_id:int}/collaboration",
    summary="A product's open collaboration: the rate in force now and any pending cut",
    response=CollaborationOut,
    errors=[404],
)
async def get_collaboration(services: Services, call: Call) -> CollaborationOut:
    async with services.db.sessions() as db:
        product = await _product(db, call.id("product_id"))
        await collabs.roll_due(db, services.clock.now())
        return _collab_out(product, await db.get(Collaboration, product.id))


@api.route(
    "PUT",
    "/api/products/{product_id:int}/collaboration",
    summary="Open a product to all creators at a rate, or change it (its brand)",
    body=RateIn,
    response=CollaborationOut,
    auth="required",
    errors=[401, 403, 404, 422],
)
async def set_collaboration(services: Services, call: Call) -> CollaborationOut:
    rules = collabs.RateRules.of(services.settings)
    async with services.db.sessions() as db:
        now = services.clock.now()
        product = await _brand_product(db, call, now)
        collab = await collabs.set_open_rate(
            db, product, call.body_as(RateIn).rate_bps, now=now, rules=rules
        )
        return _collab_out(product, collab)


@api.route(
    "DELETE",
    "/api/products/{product_id:int}/collaboration",
    summary="Close a product's open collaboration (after the rate lock; its brand)",
    response=CollaborationOut,
    auth="required",
    errors=[401, 403, 404],
)
async def close_collaboration(services: Services, call: Call) -> CollaborationOut:
    rules = collabs.RateRules.of(services.settings)
    async with services.db.sessions() as db:
        now = services.clock.now()
        product = await _brand_product(db, call, now)
        collab = await collabs.close_open_rate(db, product, now=now, rules=rules)
        return _collab_out(product, collab)


@api.route(
    "POST",
    "/api/products/{product_id:int}/offers",
    summary="Offer one creator a higher rate on a product (its brand)",
    body=OfferIn,
    response=OfferOut,
    status=201,
    auth="required",
    errors=[401, 403, 404, 422],
)
async def make_offer(services: Services, call: Call) -> OfferOut:
    body = call.body_as(OfferIn)
    rules = collabs.RateRules.of(services.settings)
    async with services.db.sessions() as db:
        product = await _product(db, call.id("product_id"))
        call.principal.require_brand(product.brand_id)
        offer = await collabs.make_offer(
            db, product, body.creator_id, body.rate_bps, now=services.clock.now(), rules=rules
        )
        return _offer_out(offer, product)


@_listing_route(
    "/api/brands/{brand_id:int}/offers", "A brand's targeted offers, newest first (its users)"
)
async def brand_offers(services: Services, call: Call) -> list[OfferOut]:
    brand_id = call.id("brand_id")
    call.principal.require_brand(brand_id)
    async with services.db.sessions() as db:
        rows = await collabs.offers_of_brand(db, brand_id, _statuses(call))
    return [_offer_out(o, p) for o, p in rows]


@_listing_route("/api/me/offers", "Targeted offers made to you, newest first (creators)")
async def my_offers(services: Services, call: Call) -> list[OfferOut]:
    creator_id = call.principal.require_role(Role.HOST)
    async with services.db.sessions() as db:
        rows = await collabs.offers_of_creator(db, creator_id, _statuses(call))
    return [_offer_out(o, p) for o, p in rows]


async def _respond(services: Services, call: Call, *, accept: bool) -> OfferOut:
    creator_id = call.principal.require_role(Role.HOST)
    async with services.db.sessions() as db:
        offer = await collabs.get_offer(db, call.id("offer_id"))
        await collabs.respond(db, offer, creator_id, accept=accept, now=services.clock.now())
        return _offer_out(offer, await _product(db, offer.product_id))


@_offer_route("POST", "/api/offers/{offer_id:int}/accept", "Accept an offer made to you")
async def accept_offer(services: Services, call: Call) -> OfferOut:
    return await _respond(services, call, accept=True)


@_offer_route("POST", "/api/offers/{offer_id:int}/decline", "Decline an offer made to you")
async def decline_offer(services: Services, call: Call) -> OfferOut:
    return await _respond(services, call, accept=False)


@_offer_route(
    "DELETE",
    "/api/offers/{offer_id:int}",
    "Withdraw an offer (its brand; an accepted one after the rate lock)",
)
async def withdraw_offer(services: Services, call: Call) -> OfferOut:
    rules = collabs.RateRules.of(services.settings)
    call.principal.require_role(Role.BRAND)
    brand_id = None if call.principal.is_admin else call.principal.brand_id
    async with services.db.sessions() as db:
        offer = await collabs.get_offer(db, call.id("offer_id"))
        await collabs.withdraw(db, offer, brand_id, now=services.clock.now(), rules=rules)
        return _offer_out(offer, await _product(db, offer.product_id))
