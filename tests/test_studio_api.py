"""The API behind the host studio and the product page: scheduling rules with per-field
errors, where a product is featured, its units left, and a show's headline numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.cart_support import buy, buyer
from tests.hub_client import HubClient
from tests.support import Actors, ServerThread, wait_for


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    return body


async def test_schedule_errors_name_their_field(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient
) -> None:
    host = await actors.user("host")
    product = await actors.product()

    # empty title: the request validator's error, at body.title
    r = await client.post("/api/sessions", json={"title": "  "}, headers=host["headers"])
    assert _problem(r, 422)["errors"][0]["loc"] == ["body", "title"]

    # a time in the past: 422 at body.scheduled_at, on create and on edit
    past = {"title": "Yesterday", "scheduled_at": _iso(-timedelta(hours=2))}
    body = _problem(await client.post("/api/sessions", json=past, headers=host["headers"]), 422)
    assert body["code"] == "validation_failed"
    assert body["errors"] == [
        {"loc": ["body", "scheduled_at"], "msg": "must not be in the past", "type": "past_time"}
    ]
    # ... while "now" from a minute-step time picker (seconds ago) is fine
    ok = {"title": "Now", "scheduled_at": _iso(-timedelta(seconds=20))}
    r = await client.post("/api/sessions", json=ok, headers=host["headers"])
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = await client.patch(
        f"/api/sessions/{sid}",
        json={"scheduled_at": _iso(-timedelta(days=1))},
        headers=host["headers"],
    )
    assert _problem(r, 422)["errors"][0]["loc"] == ["body", "scheduled_at"]
    later = _iso(timedelta(days=2))
    r = await client.patch(
        f"/api/sessions/{sid}",
        json={"title": "Later", "description": "Two days on", "scheduled_at": later},
        headers=host["headers"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Later" and r.json()["description"] == "Two days on"

    # lineup products that do not exist (or are withdrawn): each named at its index
    withdrawn = await actors.product()
    missing = 2**62
    ids = [product["id"], missing, withdrawn["id"]]
    await _withdraw(actors, client, withdrawn)
    for method, path, payload in (
        ("POST", "/api/sessions", {"title": "Lineup", "product_ids": ids}),
        ("PUT", f"/api/sessions/{sid}/lineup", {"product_ids": ids}),
    ):
        r = await client.request(method, path, json=payload, headers=host["headers"])
        errors = _problem(r, 422)["errors"]
        assert [e["loc"] for e in errors] == [
            ["body", "product_ids", "1"],
            ["body", "product_ids", "2"],
        ], errors
        assert {e["type"] for e in errors} == {"not_found"}
    r = await client.put(
        f"/api/sessions/{sid}/lineup",
        json={"product_ids": [product["id"], product["id"]]},
        headers=host["headers"],
    )
    assert _problem(r, 422)["errors"][0]["loc"] == ["body", "product_ids"]
    # nothing of the refused lineups was kept
    r = await client.get(f"/api/sessions/{sid}")
    assert r.json()["lineup"] == []


async def _withdraw(actors: Actors, client: httpx.AsyncClient, product: dict[str, Any]) -> None:
    admin = await actors.user("admin")
    r = await client.delete(f"/api/products/{product['id']}", headers=admin["headers"])
    assert r.status_code == 204, r.text


async def test_product_sessions_stock_and_not_found(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient
) -> None:
    owner = await actors.brand()
    product = await actors.product(owner=owner, stock=7, variants=2)
    other = await actors.product(owner=owner)
    host = await actors.user("host")
    soon, later = _iso(timedelta(hours=1)), _iso(timedelta(days=3))
    made = {}
    for title, when, lineup in (
        ("Later", later, [other["id"], product["id"]]),
        ("Soon", soon, [product["id"]]),
        ("Unscheduled", None, [product["id"]]),
        ("Elsewhere", soon, [other["id"]]),
        ("On air", None, [product["id"]]),
        ("Over", None, [product["id"]]),
    ):
        body: dict[str, Any] = {"title": title, "product_ids": lineup}
        if when:
            body["scheduled_at"] = when
        r = await client.post("/api/sessions", json=body, headers=host["headers"])
        assert r.status_code == 201, r.text
        made[title] = r.json()["id"]
    for title, steps in (("On air", ["start"]), ("Over", ["start", "end"])):
        for step in steps:
            r = await client.post(f"/api/sessions/{made[title]}/{step}", headers=host["headers"])
            assert r.status_code == 200, r.text

    r = await client.get(f"/api/products/{product['id']}/sessions")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["id"] for s in body["live"]] == [made["On air"]]
    assert [s["title"] for s in body["upcoming"]] == ["Soon", "Later", "Unscheduled"]
    assert body["upcoming"][0]["host_name"] == "host"
    assert body["live"][0]["status"] == "live" and body["live"][0]["started_at"]

    # units left: from SQL while not on sale (only in scheduled shows), the cart's
    # counters once on sale (in a live show's lineup, or bought)
    user = await buyer(actors)
    r = await client.get(f"/api/products/{other['id']}/stock")
    assert r.status_code == 200, r.text
    (only,) = (str(v["id"]) for v in other["variants"])
    assert r.json() == {
        "product_id": other["id"],
        "units_left": 10,
        "variants": {only: 10},
        "on_sale": False,
    }
    r = await client.get(f"/api/products/{product['id']}/stock")
    v0, v1 = (str(v["id"]) for v in product["variants"])
    assert r.json() == {
        "product_id": product["id"],
        "units_left": 14,
        "variants": {v0: 7, v1: 7},
        "on_sale": True,
    }
    for item in (product, other):
        r = await buy(client, user, item, quantity=2, variant=len(item["variants"]) - 1)
        assert r.status_code == 201, r.text
    stock = (await client.get(f"/api/products/{product['id']}/stock")).json()
    assert stock["variants"] == {v0: 7, v1: 5} and stock["units_left"] == 12
    stock = (await client.get(f"/api/products/{other['id']}/stock")).json()
    assert stock["variants"] == {only: 8} and stock["on_sale"] is True  # bought: on sale

    # unknown or withdrawn: 404 problem+json on both
    await _withdraw(actors, client, other)
    for pid in (other["id"], 2**62):
        for tail in ("sessions", "stock"):
            body = _problem(await client.get(f"/api/products/{pid}/{tail}"), 404)
            assert body["code"] == "not_found"


async def test_summary_counts_orders_for_host_moderators_admins_only(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient
) -> None:
    product = await actors.product(price=2500)
    show = await actors.show(product_ids=[product["id"]], live=True)
    sid, host = show["id"], show["host"]
    url = f"/api/sessions/{sid}/summary"

    r = await client.get(url, headers=host["headers"])
    assert r.status_code == 200, r.text
    assert r.json() == {
        "session": sid,
        "status": "live",
        "orders": 0,
        "buyers": 0,
        "units_sold": 0,
        "gmv_minor": 0,
        "currency": None,
        "viewers_peak": None,
    }
    # a viewer watches: the peak becomes known (the hub reports presence every second)
    viewer = await HubClient.open(server.url)
    try:
        await viewer.join(sid)
        body = await _eventually(
            lambda: _get(client, url, host), lambda b: b["viewers_peak"] is not None
        )
        assert body["viewers_peak"] == 1
    finally:
        await viewer.close()
    user = await buyer(actors)
    r = await buy(client, user, product, quantity=3, session_id=sid)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/sessions/{sid}/end", headers=host["headers"])
    assert r.status_code == 200, r.text

    moderator = await actors.user("moderator")
    r = await client.post(
        f"/api/sessions/{sid}/moderators",
        json={"user_id": moderator["id"]},
        headers=host["headers"],
    )
    assert r.status_code == 201, r.text
    admin = await actors.user("admin")

    for who in (host, moderator, admin):
        body = await _get(client, url, who)
        assert body["orders"] == 1
        assert body["status"] == "ended" and body["viewers_peak"] == 1
        assert (body["units_sold"], body["gmv_minor"], body["currency"]) == (3, 7500, "USD")
        assert body["buyers"] == 1

    other_host = await actors.user("host")
    assert _problem(await client.get(url, headers=other_host["headers"]), 403)["code"]
    assert _problem(await client.get(url, headers=user["headers"]), 403)["code"]
    assert _problem(await client.get(url), 401)["code"] == "unauthorized"
    r = await client.get(f"/api/sessions/{2**62}/summary", headers=admin["headers"])
    assert _problem(r, 404)["code"] == "not_found"


async def _get(client: httpx.AsyncClient, url: str, who: dict[str, Any]) -> dict[str, Any]:
    r = await client.get(url, headers=who["headers"])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _eventually(fetch: Any, done: Any) -> dict[str, Any]:
    last: dict[str, Any] = {}

    async def check() -> bool:
        nonlocal last
        last = await fetch()
        return bool(done(last))

    await wait_for(check, timeout=5)
    return last
