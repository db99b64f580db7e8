"""Helpers for cart/checkout tests: buyers with saved address and card, fast bulk buyers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from livecommerce.accounts.bulk import insert_buyers
from livecommerce.auth.passwords import hash_password
from livecommerce.auth.tokens import TokenSigner
from livecommerce.db.engine import Database
from livecommerce.db.models import Order, OrderItem, Payment
from livecommerce.settings import Settings
from tests.support import Actors

ADDRESS = {
    "name": "Test Buyer",
    "line1": "1 Test Street",
    "city": "Testville",
    "postal_code": "12345",
    "country": "US",
}


async def buyer(actors: Actors, card: str = "pm_card_visa") -> dict[str, Any]:
    """A viewer with a saved address and test card, made through the real API."""
    user = await actors.user("viewer")
    r = await actors.client.put("/api/me/address", json=ADDRESS, headers=user["headers"])
    assert r.status_code == 200, r.text
    r = await actors.client.post(
        "/api/me/payment-methods", json={"token": card}, headers=user["headers"]
    )
    assert r.status_code == 201, r.text
    user["payment_method_id"] = r.json()["id"]
    return user


async def bulk_buyers(db: Database, settings: Settings, n: int) -> list[dict[str, Any]]:
    """``n`` viewers with address and card, inserted straight into SQL (one password
    hash for all: argon2 for hundreds of users would dominate the test's time)."""
    signer = TokenSigner(settings.secret_key, ttl_s=3600)
    password = hash_password("bulk buyer password")
    tag = uuid.uuid4().hex[:10]
    emails = [f"bulk-{tag}-{i}@test.livecommerce.dev" for i in range(n)]
    async with db.sessions() as session, session.begin():
        ids = await insert_buyers(session, emails, password_hash=password, address=ADDRESS)
    return [
        {"id": uid, "headers": {"Authorization": f"Bearer {signer.issue(uid, 'viewer')}"}}
        for uid in ids
    ]


async def buy(
    client: httpx.AsyncClient,
    user: dict[str, Any],
    product: dict[str, Any],
    *,
    quantity: int = 1,
    session_id: int | None = None,
    key: str | None = None,
    variant: int = 0,
) -> httpx.Response:
    body: dict[str, Any] = {
        "product_id": product["id"],
        "variant_id": product["variants"][variant]["id"],
        "quantity": quantity,
    }
    if session_id is not None:
        body["session_id"] = session_id
    headers = {**user["headers"], "Idempotency-Key": key or uuid.uuid4().hex}
    return await client.post("/api/buy", json=body, headers=headers)


async def sold_in_sql(db: Database, product_id: int) -> int:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(OrderItem.quantity)
            .join(Order, Order.id == OrderItem.order_id)
            .where(OrderItem.product_id == product_id, Order.status.in_(["paid", "fulfilled"]))
        )
        return sum(rows)


async def authorizations(db: Database, order_ids: list[str]) -> list[str]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(Payment.authorization_id).where(Payment.order_id.in_(order_ids))
        )
        return list(rows)
