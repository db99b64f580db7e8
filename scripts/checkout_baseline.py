#!/usr/bin/env python
"""The baseline of scripts/bench_checkout.py: a straightforward SQL row-locking checkout.

Per request: read the buyer, "authorize" the card, then ``BEGIN IMMEDIATE`` (SQLite) or
``SELECT ... FOR UPDATE`` (PostgreSQL) on the variant, check and decrement its stock,
insert the order, its item and payment, commit. Same HTTP stack as ours (uvicorn +
Starlette). Run by the bench: ``checkout_baseline.py DATABASE_URL PORT`` with
``SECRET_KEY`` in the environment (the bench's tokens are signed with it).
"""

from __future__ import annotations

import os
import secrets
import sys
import uuid
from typing import Any

from livecommerce import encoding
from scripts.baseline_sql import serve, sql_engine


def baseline_app(database_url: str) -> Any:
    """The straightforward checkout: row lock, decrement, insert, commit, per request."""
    from sqlalchemy import insert, select, update
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from livecommerce.auth.tokens import TokenSigner
    from livecommerce.db.models import (
        Order,
        OrderItem,
        Payment,
        PaymentMethod,
        Product,
        User,
        Variant,
        utcnow,
    )

    engine, sqlite = sql_engine(database_url)
    signer = TokenSigner(os.environ["SECRET_KEY"], ttl_s=3600)

    async def buy(request: Request) -> Response:
        try:
            claims = signer.verify(request.headers["authorization"].split(" ", 1)[1])
        except Exception:  # noqa: BLE001
            return Response(b'{"code":"unauthorized"}', 401, media_type="application/json")
        key = request.headers.get("idempotency-key")
        body = encoding.loads(await request.body())
        product_id, variant_id, qty = body["product_id"], body["variant_id"], body["quantity"]
        async with engine.connect() as conn:
            buyer = (
                await conn.execute(
                    select(User.shipping_address, PaymentMethod.token)
                    .join(PaymentMethod, PaymentMethod.user_id == User.id)
                    .where(User.id == claims.user_id)
                )
            ).first()
            price = (
                await conn.execute(
                    select(Product.price_minor, Product.currency).where(Product.id == product_id)
                )
            ).first()
        if buyer is None or price is None:
            return Response(b'{"code":"not_found"}', 404, media_type="application/json")
        authorization = f"base_{secrets.token_hex(12)}"  # the card "authorizes"
        order_id = str(uuid.uuid4())
        async with engine.begin() as conn:
            query = select(Variant.stock_total).where(Variant.id == variant_id)
            if not sqlite:
                query = query.with_for_update()
            stock = (await conn.execute(query)).scalar_one()
            if stock < qty:
                await conn.rollback()
                return Response(b'{"code":"out_of_stock"}', 409, media_type="application/json")
            await conn.execute(
                update(Variant)
                .where(Variant.id == variant_id)
                .values(stock_total=Variant.stock_total - qty)
            )
            now = utcnow()
            await conn.execute(
                insert(Order).values(
                    id=order_id,
                    user_id=claims.user_id,
                    status="paid",
                    total_minor=price[0] * qty,
                    currency=price[1],
                    idempotency_key=key,
                    hold_id=order_id,
                    shipping_address=buyer[0],
                    created_at=now,
                    updated_at=now,
                )
            )
            await conn.execute(
                insert(OrderItem).values(
                    order_id=order_id,
                    product_id=product_id,
                    variant_id=variant_id,
                    quantity=qty,
                    unit_price_minor=price[0],
                    commission_bps=0,
                )
            )
            await conn.execute(
                insert(Payment).values(
                    order_id=order_id,
                    gateway="test",
                    authorization_id=authorization,
                    status="captured",
                    amount_minor=price[0] * qty,
                    currency=price[1],
                    created_at=now,
                    updated_at=now,
                )
            )
        return Response(encoding.dumps({"id": order_id}), 201, media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(routes=[Route("/api/buy", buy, methods=["POST"]), Route("/readyz", ready)])


if __name__ == "__main__":
    serve(baseline_app(sys.argv[1]), int(sys.argv[2]))
