"""The brand console over real HTTP, Valkey and SQL: a brand's orders (filters, pages,
another brand's order is 403), fulfil and refund from the list, the sales report by
product, show and creator, and its CSV to the cent."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from livecommerce.db.engine import Database
from livecommerce.db.models import CommissionEntry, Product
from tests.cart_support import ADDRESS, buy, buyer
from tests.support import Actors


@dataclass
class World:
    a: tuple[int, dict[str, Any]]
    b: tuple[int, dict[str, Any]]
    shirt: dict[str, Any]  # brand A, 24.50, 10 %
    mug: dict[str, Any]  # brand A, 12.00, 25 %
    cap: dict[str, Any]  # brand B, 9.00, 10 %
    show1: dict[str, Any]
    show2: dict[str, Any]
    buyers: list[dict[str, Any]]
    #: Order ids in purchase order: [shirt×2@show1, mug@show1, shirt@show2, shirt (no show),
    #: cap@show1 (B only), shirt+cap@show1 (mixed)]
    orders: list[str]


async def _checkout(client: httpx.AsyncClient, user: dict[str, Any], show: int, *lines: Any) -> str:
    for product in lines:
        body = {
            "product_id": product["id"],
            "variant_id": product["variants"][0]["id"],
            "quantity": 1,
        }
        r = await client.post("/api/cart/items", json=body, headers=user["headers"])
        assert r.status_code == 200, r.text
    headers = {**user["headers"], "Idempotency-Key": uuid.uuid4().hex}
    r = await client.post("/api/checkout", json={"session_id": show}, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _world(client: httpx.AsyncClient, actors: Actors) -> World:
    a, b = await actors.brand(), await actors.brand()
    shirt = await actors.product(price=2450, commission_bps=1000, owner=a)
    mug = await actors.product(price=1200, commission_bps=2500, owner=a)
    cap = await actors.product(price=900, commission_bps=1000, owner=b)
    show1 = await actors.show(product_ids=[shirt["id"], mug["id"], cap["id"]], live=True)
    show2 = await actors.show(product_ids=[shirt["id"]], live=True)
    buyers = [await buyer(actors), await buyer(actors)]
    orders: list[str] = []
    for user, product, quantity, show in [
        (buyers[0], shirt, 2, show1["id"]),
        (buyers[1], mug, 1, show1["id"]),
        (buyers[0], shirt, 1, show2["id"]),
        (buyers[1], shirt, 1, None),
        (buyers[0], cap, 1, show1["id"]),
    ]:
        r = await buy(client, user, product, quantity=quantity, session_id=show)
        assert r.status_code == 201, r.text
        orders.append(r.json()["id"])
    orders.append(await _checkout(client, buyers[1], show1["id"], shirt, cap))
    return World(a, b, shirt, mug, cap, show1, show2, buyers, orders)


async def _all(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[Any]:
    """Every page of the list, following the cursors."""
    seen: list[Any] = []
    cursor = None
    while True:
        q = {**params, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/api/brand/orders", params=q, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_brand_lists_its_orders_with_filters_and_acts_on_them(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    w = await _world(client, actors)
    ha, hb = w.a[1]["headers"], w.b[1]["headers"]
    mixed = w.orders[5]

    everything = await _all(client, ha, limit=2)  # three pages
    # brand A: every order but B's cap-only one, newest first, no order twice
    assert [o["id"] for o in everything] == [w.orders[i] for i in (5, 3, 2, 1, 0)]
    times = [o["created_at"] for o in everything]
    assert times == sorted(times, reverse=True)
    by_id = {o["id"]: o for o in everything}
    # only the brand's own items; the buyer by name, never the e-mail
    assert [i["product_id"] for i in by_id[mixed]["items"]] == [w.shirt["id"]]
    assert by_id[mixed]["brand_total_minor"] == 2450 and by_id[mixed]["whole_order"] is False
    # where to ship: for the orders the brand ships itself only
    assert by_id[mixed]["ship_to"] is None
    assert by_id[w.orders[0]]["ship_to"] == {**ADDRESS, "line2": ""}
    first = by_id[w.orders[0]]
    assert (
        first["items"][0]["quantity"] == 2 and first["items"][0]["product_name"] == w.shirt["name"]
    )
    assert first["brand_total_minor"] == 4900 and first["whole_order"] is True
    assert first["buyer"] == {"id": w.buyers[0]["id"], "name": "viewer"}
    assert first["show"] == {"id": w.show1["id"], "name": w.show1["title"]}
    assert first["creator"] == {"id": w.show1["host"]["id"], "name": "host"}
    assert first["payment_status"] == "captured" and first["status"] == "paid"
    assert by_id[w.orders[3]]["show"] is None and by_id[w.orders[3]]["creator"] is None
    r = await client.get("/api/brand/orders", headers=ha)
    assert w.buyers[0]["email"] not in r.text and "email" not in r.text
    # brand B sees its two, each with its items only
    b_orders = await _all(client, hb)
    assert [o["id"] for o in b_orders] == [mixed, w.orders[4]]
    assert [i["product_id"] for i in b_orders[0]["items"]] == [w.cap["id"]]

    async def ids(**params: Any) -> list[str]:
        return [o["id"] for o in await _all(client, ha, **params)]

    assert await ids(session_id=w.show1["id"]) == [mixed, w.orders[1], w.orders[0]]
    assert await ids(session_id=w.show2["id"]) == [w.orders[2]]
    assert await ids(creator_id=w.show2["host"]["id"]) == [w.orders[2]]
    assert await ids(**{"from": by_id[w.orders[1]]["created_at"]}) == [mixed, *w.orders[3:0:-1]]
    assert await ids(**{"to": by_id[w.orders[1]]["created_at"]}) == [w.orders[0]]
    assert await ids(
        **{"from": by_id[w.orders[1]]["created_at"], "to": by_id[w.orders[3]]["created_at"]}
    ) == [w.orders[2], w.orders[1]]

    # fulfil and refund from the list (the existing endpoints), then filter by status
    r = await client.post(f"/api/orders/{w.orders[0]}/fulfil", headers=ha)
    assert r.status_code == 200 and r.json()["status"] == "fulfilled"
    r = await client.post(f"/api/orders/{w.orders[1]}/refund", headers=ha)
    assert r.status_code == 200 and r.json()["status"] == "refunded"
    assert await ids(status="fulfilled") == [w.orders[0]]
    assert await ids(status="refunded") == [w.orders[1]]
    assert await ids(status="paid", session_id=w.show1["id"]) == [mixed]
    # a mixed order is the admin's to act on: the brand sees it but may not fulfil it
    r = await client.post(f"/api/orders/{mixed}/fulfil", headers=ha)
    assert r.status_code == 403
    # a refund request shows in the brand's list
    r = await client.post(
        f"/api/orders/{w.orders[2]}/refund-request",
        json={"reason": "too small"},
        headers=w.buyers[0]["headers"],
    )
    assert r.status_code == 200, r.text
    one = (await client.get(f"/api/brand/orders/{w.orders[2]}", headers=ha)).json()
    assert one["refund_reason"] == "too small" and one["refund_requested_at"] is not None
    # the orders as CSV: one row per item of the brand's, the list's filters
    r = await client.get("/api/brand/orders.csv", params={"session_id": w.show1["id"]}, headers=ha)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["order_id"] for row in rows] == [mixed, w.orders[1], w.orders[0]]
    assert rows[0]["product"] == w.shirt["name"] and rows[0]["line_total"] == "24.50"
    assert (rows[2]["quantity"], rows[2]["unit_price"], rows[2]["line_total"]) == (
        "2", "24.50", "49.00"
    )  # fmt: skip
    assert (rows[2]["status"], rows[2]["creator"], rows[2]["show"]) == (
        "fulfilled", "host", w.show1["title"]
    )  # fmt: skip
    assert rows[1]["status"] == "refunded" and rows[1]["commission_bps"] == "2500"
    assert (rows[0]["ship_name"], rows[0]["ship_city"]) == ("", "")  # mixed: the admin ships
    assert (rows[2]["ship_name"], rows[2]["ship_line1"], rows[2]["ship_country"]) == (
        "Test Buyer", "1 Test Street", "US"
    )  # fmt: skip
    r = await client.get("/api/brand/orders.csv", params={"status": "paid"}, headers=ha)
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["order_id"], x["refund_reason"]) for x in lines] == [
        (mixed, ""), (w.orders[3], ""), (w.orders[2], "too small")
    ]  # fmt: skip
    assert "@" not in r.text  # no e-mail

    # another brand's order: 403; another brand's list: 403; no such order: 404
    r = await client.get(f"/api/brand/orders/{w.orders[0]}", headers=hb)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = await client.get(f"/api/brand/orders/{w.orders[4]}", headers=ha)
    assert r.status_code == 403
    r = await client.get("/api/brand/orders", params={"brand_id": w.a[0]}, headers=hb)
    assert r.status_code == 403
    r = await client.get("/api/brand/sales", params={"brand_id": w.a[0]}, headers=hb)
    assert r.status_code == 403
    r = await client.get("/api/brand/orders/no-such-order", headers=ha)
    assert r.status_code == 404
    # not a brand: viewers and hosts 403, anonymous 401; an admin names the brand
    for who in (w.buyers[0], w.show1["host"]):
        r = await client.get("/api/brand/orders", headers=who["headers"])
        assert r.status_code == 403 and r.json()["code"] == "not_a_brand"
    assert (await client.get("/api/brand/orders")).status_code == 401
    admin = await actors.user("admin")
    r = await client.get("/api/brand/orders", headers=admin["headers"])
    assert r.status_code == 400
    r = await client.get("/api/brand/orders", params={"brand_id": w.b[0]}, headers=admin["headers"])
    assert [o["id"] for o in r.json()["items"]] == [mixed, w.orders[4]]
    # bad input: 4xx, never a 500
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": "bm90IGEgY3Vyc29y"},
        {"status": "lost"},
        {"from": "yesterday"},
        {"from": "2026-11-28T00:00:00"},  # no zone
        {"limit": "0"},
        {"session_id": "0"},
        {"color": "red"},
    ):
        r = await client.get("/api/brand/orders", params=params, headers=ha)
        assert r.status_code in (400, 422), (params, r.status_code, r.text)


async def test_sales_by_product_show_and_creator_with_refunds_and_csv(
    client: httpx.AsyncClient, actors: Actors, db: Database
) -> None:
    w = await _world(client, actors)
    ha = w.a[1]["headers"]
    # refund the mug (show1) and the shirt bought with no show
    for order_id in (w.orders[1], w.orders[3]):
        r = await client.post(f"/api/orders/{order_id}/refund", headers=ha)
        assert r.status_code == 200, r.text

    async def report(group: str) -> dict[Any, Any]:
        r = await client.get("/api/brand/sales", params={"group": group}, headers=ha)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["brand_id"] == w.a[0] and body["group"] == group
        # the totals of every grouping are the same figures
        assert body["totals"] == [
            {
                "key": None, "label": None, "currency": "USD",
                "gmv_minor": 4900 + 1200 + 2450 + 2450 + 2450, "units": 6,
                # shirt 10 % of 98.00, the mug's 25 % reversed, the no-show shirt earns none
                "commission_owed_minor": 980,
                "refunds": 2, "refunds_minor": 1200 + 2450, "net_minor": 9800,
            }
        ]  # fmt: skip
        return {row["key"]: row for row in body["rows"]}

    products = await report("product")
    assert set(products) == {w.shirt["id"], w.mug["id"]}  # never brand B's cap
    shirt = products[w.shirt["id"]]
    assert (shirt["label"], shirt["gmv_minor"], shirt["units"]) == (w.shirt["name"], 12250, 5)
    assert (shirt["commission_owed_minor"], shirt["refunds"], shirt["refunds_minor"]) == (
        980, 1, 2450
    )  # fmt: skip
    mug = products[w.mug["id"]]
    assert (mug["gmv_minor"], mug["units"], mug["commission_owed_minor"]) == (1200, 1, 0)
    assert (mug["refunds"], mug["refunds_minor"], mug["net_minor"]) == (1, 1200, 0)

    shows = await report("show")
    assert set(shows) == {w.show1["id"], w.show2["id"], None}
    s1 = shows[w.show1["id"]]  # shirt×2, mug (refunded), the mixed order's shirt
    assert (s1["label"], s1["gmv_minor"], s1["units"]) == (w.show1["title"], 8550, 4)
    assert (s1["commission_owed_minor"], s1["refunds"], s1["refunds_minor"]) == (735, 1, 1200)
    assert shows[w.show2["id"]]["commission_owed_minor"] == 245
    assert shows[None]["label"] is None and shows[None]["refunds"] == 1

    creators = await report("creator")
    h1, h2 = w.show1["host"]["id"], w.show2["host"]["id"]
    assert set(creators) == {h1, h2, None}
    assert creators[h1]["label"] == "host" and creators[h1]["commission_owed_minor"] == 735
    # the ledger says the same (earned minus reversed on the brand's products)
    async with db.sessions() as session:
        ledger = await session.scalar(
            select(func.sum(CommissionEntry.amount_minor))
            .join(Product, Product.id == CommissionEntry.product_id)
            .where(Product.brand_id == w.a[0])
        )
    assert ledger == 980

    # a period with none of these orders
    r = await client.get("/api/brand/sales", params={"to": "2000-01-01T00:00:00Z"}, headers=ha)
    assert r.json()["rows"] == [] and r.json()["totals"] == []

    r = await client.get("/api/brand/sales.csv", params={"group": "show"}, headers=ha)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.text.startswith(
        "group,key,label,currency,gmv,units,commission_owed,refunds,refunds_amount,net\r\n"
    )
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[1:] == [
        ["show", str(w.show1["id"]), w.show1["title"], "USD", "85.50", "4", "7.35", "1", "12.00",
         "73.50"],
        ["show", "", "", "USD", "24.50", "1", "0.00", "1", "24.50", "0.00"],
        ["show", str(w.show2["id"]), w.show2["title"], "USD", "24.50", "1", "2.45", "0", "0.00",
         "24.50"],
    ]  # fmt: skip
    r = await client.get("/api/brand/sales.csv", params={"group": "product"}, headers=ha)
    assert list(csv.reader(io.StringIO(r.text)))[1] == [
        "product", str(w.shirt["id"]), w.shirt["name"], "USD", "122.50", "5", "9.80", "1",
        "24.50", "98.00",
    ]  # fmt: skip
    # another brand's numbers are not A's
    r = await client.get(
        "/api/brand/sales.csv", params={"group": "product"}, headers=w.b[1]["headers"]
    )
    lines = list(csv.reader(io.StringIO(r.text)))
    assert [row[1] for row in lines[1:]] == [str(w.cap["id"])] and lines[1][4] == "18.00"
    for params in ({"group": "brand"}, {"from": "soon"}):
        r = await client.get("/api/brand/sales.csv", params=params, headers=ha)
        assert r.status_code == 422, r.text
