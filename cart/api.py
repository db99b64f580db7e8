"""HTTP adapters: cart, instant buy, checkout, orders, payment methods (earnings and
payouts: cart/earnings_api.py).

All need a signed-in user and only ever touch that user's cart and orders (I6).
Checkout endpoints need an ``Idempotency-Key`` header; see docs/api.md.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from cart import orders
from cart.checkout import Purchase, PurchaseLine
from cart.component import CartComponent
from cart.idempotency import check_key, fingerprint, run_idempotent
from cart.payments import listed_test_cards
from cart.schemas import (
    BuyIn,
    CartItemIn,
    CartItemPatch,
    CartLineOut,
    CartOut,
    CheckoutIn,
    OrderOut,
    OrderPage,
    PaymentMethodIn,
    RefundRequestIn,
    TestCardOut,
)
from livecommerce.accounts import payment_methods
from livecommerce.accounts.schemas import PaymentMethodOut
from livecommerce.api.common import PageQuery
from livecommerce.api.routing import Api, Call, JSONResponse
from livecommerce.creators import attribution
from livecommerce.creators.attribution import Attribution
from livecommerce.errors import LivecommerceError, NotFound, Unavailable

__all__ = ["api"]

api: Api[CartComponent] = Api(tags=["cart and checkout"])

_CHECKOUT_ERRORS = [400, 402, 404, 409, 422, 503]


class ProblemJSON(JSONResponse):
    media_type = "application/problem+json"


async def _cart_out(cart: CartComponent, user_id: int) -> CartOut:
    contents = await cart.carts.get(user_id)
    lines: list[CartLineOut] = []
    for (product_id, variant_id), quantity in contents.lines.items():
        try:
            product = await cart.lookups.product(product_id)
            variant = product.variant(variant_id)
        except NotFound:
            await cart.carts.remove(user_id, product_id, variant_id)  # withdrawn since added
            continue
        lines.append(
            CartLineOut(
                product_id=product_id,
                variant_id=variant_id,
                product_name=product.name,
                variant_name=variant.name,
                quantity=quantity,
                unit_price_minor=variant.price_minor,
                line_total_minor=variant.price_minor * quantity,
                currency=product.currency,
            )
        )
    return CartOut(
        lines=lines,
        item_count=sum(line.quantity for line in lines),
        total_minor=sum(line.line_total_minor for line in lines),
        currency=lines[0].currency if lines else None,
        session_id=contents.session_id,
    )


@api.route("GET", "/api/cart", summary="Your cart", response=CartOut, auth="required")
async def get_cart(cart: CartComponent, call: Call) -> CartOut:
    return await _cart_out(cart, call.principal.require_user())


@api.route(
    "POST",
    "/api/cart/items",
    summary="Add a variant to your cart (holds no stock)",
    body=CartItemIn,
    response=CartOut,
    auth="required",
    errors=[404, 422],
)
async def add_cart_item(cart: CartComponent, call: Call) -> CartOut:
    user_id = call.principal.require_user()
    body = call.body_as(CartItemIn)
    (await cart.lookups.product(body.product_id)).variant(body.variant_id)
    if body.session_id is not None:
        await cart.lookups.session(body.session_id)
    await cart.carts.add(user_id, body.product_id, body.variant_id, body.quantity, body.session_id)
    return await _cart_out(cart, user_id)


@api.route(
    "PATCH",
    "/api/cart/items/{product_id:int}/{variant_id:int}",
    summary="Change a cart line's quantity (0 removes it)",
    body=CartItemPatch,
    response=CartOut,
    auth="required",
    errors=[404, 422],
)
async def update_cart_item(cart: CartComponent, call: Call) -> CartOut:
    user_id = call.principal.require_user()
    await cart.carts.set(
        user_id, call.id("product_id"), call.id("variant_id"), call.body_as(CartItemPatch).quantity
    )
    return await _cart_out(cart, user_id)


@api.route(
    "DELETE",
    "/api/cart/items/{product_id:int}/{variant_id:int}",
    summary="Remove a cart line",
    response=CartOut,
    auth="required",
    errors=[404],
)
async def remove_cart_item(cart: CartComponent, call: Call) -> CartOut:
    user_id = call.principal.require_user()
    await cart.carts.remove(user_id, call.id("product_id"), call.id("variant_id"))
    return await _cart_out(cart, user_id)


@api.route("DELETE", "/api/cart", summary="Empty your cart", status=204, auth="required")
async def clear_cart(cart: CartComponent, call: Call) -> None:
    await cart.carts.clear(call.principal.require_user())


async def _respond(
    cart: CartComponent,
    call: Call,
    user_id: int,
    key: str,
    fp: str,
    run: Callable[[], Awaitable[OrderOut]],
    known: Callable[[], LivecommerceError | None] | None = None,
) -> JSONResponse:
    started = time.perf_counter()
    try:
        # Admission: at most CHECKOUT_ADMISSION (64) checkouts run at once per process;
        # the rest wait their turn, in order. Past capacity, letting every tap in only
        # interleaves them: bench_checkout at 2,000 taps/s confirmed 1,139/s without
        # this limit (5.3 s of server CPU) against 1,778/s with it (3.2 s), as batches
        # stay full and each checkout finishes instead of all of them waiting on each other.
        async with cart.admission:
            status, doc, _ = await run_idempotent(
                cart.idempotency,
                user_id=user_id,
                key=key,
                fp=fp,
                instance=call.request.url.path,
                run=run,
                # asked once admitted: by then the sale may have sold out
                known=known() if known is not None else None,
            )
    except (RedisError, SQLAlchemyError) as exc:
        # Redis or SQL is down or restarting: a retry with the same key is safe (the
        # hold, the authorization and the order are all keyed by it).
        cart.metrics.answered(Unavailable.code, started)
        raise Unavailable(
            "checkout is briefly unavailable; retry with the same Idempotency-Key"
        ) from exc
    except LivecommerceError as exc:
        cart.metrics.answered(exc.code, started)
        raise
    cart.metrics.answered("confirmed" if status < 400 else str(doc.get("code")), started)
    response_class = ProblemJSON if status >= 400 else JSONResponse
    return response_class(doc, status_code=status)


def _attribution(cart: CartComponent, call: Call, sent: str | None) -> Attribution | None:
    """The buyer's share-link attribution: the ``lc_attr`` cookie or the body's
    ``attribution``, the latest valid click of the two; anything invalid is ignored."""
    cookie = call.request.cookies.get(attribution.COOKIE)
    now = cart.services.clock()
    return attribution.latest(cart.services.tokens, [cookie, sent], now=now)


async def _checkout(
    cart: CartComponent, call: Call, endpoint: str, body: Any, purchase: Purchase
) -> JSONResponse:
    fp = fingerprint(endpoint, body)
    return await _respond(
        cart,
        call,
        purchase.user_id,
        purchase.idempotency_key,
        fp,
        lambda: cart.checkout.purchase(purchase),
        known=lambda: cart.checkout.sold_out(purchase.lines),
    )


@api.route(
    "POST",
    "/api/buy",
    summary="Instant buy: one variant, saved address and payment method "
    "(needs an Idempotency-Key header)",
    body=BuyIn,
    response=OrderOut,
    status=201,
    auth="required",
    errors=_CHECKOUT_ERRORS,
)
async def buy(cart: CartComponent, call: Call) -> JSONResponse:
    user_id = call.principal.require_user()
    key = check_key(call.request.headers.get("idempotency-key"))
    body = call.body_as(BuyIn)
    purchase = Purchase(
        user_id=user_id,
        idempotency_key=key,
        lines=[PurchaseLine(body.product_id, body.variant_id, body.quantity)],
        session_id=body.session_id,
        payment_method_id=body.payment_method_id,
        attribution=_attribution(cart, call, body.attribution),
    )
    return await _checkout(cart, call, "buy", body.model_dump(), purchase)


@api.route(
    "POST",
    "/api/checkout",
    summary="Check out your cart: all lines or none (needs an Idempotency-Key header)",
    body=CheckoutIn,
    response=OrderOut,
    status=201,
    auth="required",
    errors=_CHECKOUT_ERRORS,
)
async def checkout(cart: CartComponent, call: Call) -> JSONResponse:
    user_id = call.principal.require_user()
    key = check_key(call.request.headers.get("idempotency-key"))
    body = call.body_as(CheckoutIn)
    credit = _attribution(cart, call, body.attribution)

    async def run() -> OrderOut:
        contents = await cart.carts.get(user_id)
        purchase = Purchase(
            user_id=user_id,
            idempotency_key=key,
            lines=[PurchaseLine(p, v, q) for (p, v), q in contents.lines.items()],
            session_id=body.session_id or contents.session_id,
            payment_method_id=body.payment_method_id,
            attribution=credit,
        )
        order = await cart.checkout.purchase(purchase)
        await cart.carts.clear(user_id)
        return order

    return await _respond(cart, call, user_id, key, fingerprint("checkout", body.model_dump()), run)


@api.route(
    "GET",
    "/api/orders",
    summary="Your orders, newest first",
    query=PageQuery,
    response=OrderPage,
    auth="required",
)
async def list_orders(cart: CartComponent, call: Call) -> OrderPage:
    user_id = call.principal.require_user()
    q = call.query_as(PageQuery)
    async with cart.services.db.sessions() as db:
        items = await orders.list_orders(db, user_id, limit=q.limit, offset=q.offset)
    return OrderPage(items=items, next_offset=q.next_offset(len(items)))


@api.route(
    "GET",
    "/api/orders/{order_id}",
    summary="One of your orders",
    response=OrderOut,
    auth="required",
    errors=[404],
)
async def get_order(cart: CartComponent, call: Call) -> OrderOut:
    async with cart.services.db.sessions() as db:
        return await orders.get_order(db, call.principal, call.param("order_id"))


@api.route(
    "POST",
    "/api/orders/{order_id}/refund",
    summary="Refund an order in full (admin or the selling brand); reverses commission",
    response=OrderOut,
    auth="required",
    errors=[402, 403, 404, 409],
)
async def refund_order(cart: CartComponent, call: Call) -> OrderOut:
    return await orders.refund_order(
        cart.services.db,
        cart.order_feed,
        cart.stock,
        cart.checkout.gateway,
        call.principal,
        call.param("order_id"),
        now=cart.services.clock.now(),
    )


@api.route(
    "POST",
    "/api/orders/{order_id}/refund-request",
    summary="Ask the seller for a refund of your order (paid or fulfilled, within "
    "RETURN_WINDOW_DAYS of the purchase; asking again changes nothing)",
    body=RefundRequestIn,
    response=OrderOut,
    auth="required",
    errors=[404, 409],
)
async def request_refund(cart: CartComponent, call: Call) -> OrderOut:
    services = cart.services
    order, recorded = await orders.request_refund(
        services.db,
        call.principal,
        call.param("order_id"),
        reason=call.body_as(RefundRequestIn).reason,
        now=datetime.fromtimestamp(services.clock(), UTC),
        window_days=services.settings.return_window_days,
    )
    if recorded:  # the buyer's other pages hear of it (the status itself is unchanged)
        await cart.order_feed.changed(call.principal.require_user(), order.id, "refund_requested")
    return order


@api.route(
    "POST",
    "/api/orders/{order_id}/fulfil",
    summary="Mark an order shipped (admin or the selling brand)",
    response=OrderOut,
    auth="required",
    errors=[403, 404, 409],
)
async def fulfil_order(cart: CartComponent, call: Call) -> OrderOut:
    return await orders.fulfil_order(
        cart.services.db, cart.order_feed, call.principal, call.param("order_id")
    )


@api.route(
    "POST",
    "/api/me/payment-methods",
    summary="Save a payment method token (test cards: see docs/api.md)",
    body=PaymentMethodIn,
    response=PaymentMethodOut,
    status=201,
    auth="required",
    errors=[409, 422],
)
async def add_payment_method(cart: CartComponent, call: Call) -> PaymentMethodOut:
    user_id = call.principal.require_user()
    body = call.body_as(PaymentMethodIn)
    info = cart.checkout.gateway(body.gateway).describe(body.token)
    async with cart.services.db.sessions() as db:
        method = await payment_methods.add_method(
            db,
            user_id,
            gateway=body.gateway,
            token=body.token,
            brand=info.brand,
            last4=info.last4,
            is_default=body.is_default,
        )
        await db.commit()
        return payment_methods.method_out(method)


@api.route(
    "GET",
    "/api/payments/test-cards",
    summary="The test gateway's cards the pages offer (none in production)",
    response=list[TestCardOut],
)
async def test_cards(cart: CartComponent, call: Call) -> list[TestCardOut]:
    cards = listed_test_cards(cart.services.settings.environment)
    return [
        TestCardOut(token=token, brand=brand, last4=last4, behaviour=behaviour)
        for token, (brand, last4, behaviour) in cards.items()
    ]
