"""The Redis cart: lines, totals, isolation, and all-or-none checkout of several products."""

from __future__ import annotations

import uuid

import httpx
from redis.asyncio import Redis
from sqlalchemy import func, select

from livecommerce.db.engine import Database
from livecommerce.db.models import Order
from livecommerce.stocklevels import units_left
from tests.cart_support import buyer
from tests.support import Actors


def _item(product: dict, quantity: int = 1, variant: int = 0, **extra: object) -> dict:
    return {
        "product_id": product["id"],
        "variant_id": product["variants"][variant]["id"],
        "quantity": quantity,
        **extra,
    }


async def test_cart_lines_and_totals(client: httpx.AsyncClient, actors: Actors) -> None:
    a = await actors.product(stock=5, price=1000, variants=2)
    b = await actors.product(stock=5, price=250)
    user = await actors.user()
    h = user["headers"]
    empty = (await client.get("/api/cart", headers=h)).json()
    assert empty == {
        "lines": [],
        "item_count": 0,
        "total_minor": 0,
        "currency": None,
        "session_id": None,
    }
    await client.post("/api/cart/items", json=_item(a, 2), headers=h)
    await client.post("/api/cart/items", json=_item(a, 1), headers=h)  # adds up
    await client.post("/api/cart/items", json=_item(a, 1, variant=1), headers=h)
    cart = (await client.post("/api/cart/items", json=_item(b, 4), headers=h)).json()
    assert cart["item_count"] == 8 and cart["total_minor"] == 3000 + 1000 + 1000
    assert [line["quantity"] for line in cart["lines"]] == [3, 1, 4]
    va = a["variants"][0]["id"]
    r = await client.patch(f"/api/cart/items/{a['id']}/{va}", json={"quantity": 1}, headers=h)
    assert r.json()["total_minor"] == 1000 + 1000 + 1000
    r = await client.delete(f"/api/cart/items/{b['id']}/{b['variants'][0]['id']}", headers=h)
    assert r.json()["item_count"] == 2
    r = await client.patch(
        f"/api/cart/items/{b['id']}/{b['variants'][0]['id']}", json={"quantity": 1}, headers=h
    )
    assert r.status_code == 404
    # another user's cart is their own (I6)
    other = await actors.user()
    assert (await client.get("/api/cart", headers=other["headers"])).json()["lines"] == []
    assert (await client.delete("/api/cart", headers=h)).status_code == 204
    assert (await client.get("/api/cart", headers=h)).json()["lines"] == []
    assert (await client.get("/api/cart")).status_code == 401


async def test_cart_rejects_bad_items(client: httpx.AsyncClient, actors: Actors) -> None:
    product = await actors.product(stock=5)
    h = (await actors.user())["headers"]
    r = await client.post(
        "/api/cart/items", json={**_item(product), "variant_id": 10**9}, headers=h
    )
    assert r.status_code == 404
    r = await client.post("/api/cart/items", json=_item(product, 0), headers=h)
    assert r.status_code == 422
    await client.post("/api/cart/items", json=_item(product, 99), headers=h)
    r = await client.post("/api/cart/items", json=_item(product, 1), headers=h)
    assert r.status_code == 422 and r.json()["code"] == "too_many_units"
    r = await client.post("/api/cart/items", json={**_item(product), "price_minor": 1}, headers=h)
    assert r.status_code == 422  # the client never sends a price


async def test_adding_to_cart_holds_no_stock(
    client: httpx.AsyncClient, actors: Actors, redis: Redis
) -> None:
    product = await actors.product(stock=3)
    await actors.show(product_ids=[product["id"]], live=True)
    h = (await actors.user())["headers"]
    await client.post("/api/cart/items", json=_item(product, 3), headers=h)
    assert sum((await units_left(redis, product["id"]) or {}).values()) == 3


async def test_cart_checkout_all_or_none(
    client: httpx.AsyncClient, actors: Actors, db: Database, redis: Redis
) -> None:
    plenty = await actors.product(stock=10, price=500, commission_bps=2000)
    scarce = await actors.product(stock=1, price=700)
    show = await actors.show(product_ids=[plenty["id"], scarce["id"]], live=True)
    user = await buyer(actors)
    h = user["headers"]
    await client.post("/api/cart/items", json=_item(plenty, 2, session_id=show["id"]), headers=h)
    await client.post("/api/cart/items", json=_item(scarce, 2), headers=h)
    r = await client.post("/api/checkout", json={}, headers={**h, "Idempotency-Key": "c-1"})
    assert r.status_code == 409 and r.json()["code"] == "out_of_stock"
    # none: the plenty product's hold was released, no order was written
    assert sum((await units_left(redis, plenty["id"]) or {}).values()) == 10
    async with db.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Order).where(Order.user_id == user["id"])
        )
    assert count == 0
    vs = scarce["variants"][0]["id"]
    await client.patch(f"/api/cart/items/{scarce['id']}/{vs}", json={"quantity": 1}, headers=h)
    key = {**h, "Idempotency-Key": uuid.uuid4().hex}
    r = await client.post("/api/checkout", json={}, headers=key)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["total_minor"] == 2 * 500 + 700
    assert order["session_id"] == show["id"]  # recorded with the cart line
    assert sorted(i["product_id"] for i in order["items"]) == sorted([plenty["id"], scarce["id"]])
    assert (await client.get("/api/cart", headers=h)).json()["lines"] == []  # emptied
    assert sum((await units_left(redis, plenty["id"]) or {}).values()) == 8
    assert sum((await units_left(redis, scarce["id"]) or {}).values()) == 0
    again = await client.post("/api/checkout", json={}, headers=key)  # retried: same order
    assert again.status_code == 201 and again.json() == order
    r = await client.post("/api/checkout", json={}, headers={**h, "Idempotency-Key": "c-2"})
    assert r.status_code == 409 and r.json()["code"] == "cart_empty"
    earnings = (await client.get("/api/me/earnings", headers=show["host"]["headers"])).json()
    assert earnings["totals"] == {"USD": 200 + 70}  # 20% of 1000 + 10% of 700
