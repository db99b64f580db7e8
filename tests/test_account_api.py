"""The account and order endpoints the account and orders pages use: remove a saved card,
choose the default one, the test cards on offer, and the buyer's refund request
(real server, real SQL and Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from cart.payments import TEST_CARDS
from cart.returns import check_refund_request
from livecommerce import encoding
from livecommerce.db.engine import Database
from livecommerce.db.models import Order, OrderStatus
from livecommerce.errors import Conflict
from tests.cart_support import buy, buyer
from tests.hub_client import HubClient
from tests.support import Actors, ServerThread

CATALOG = Path(__file__).resolve().parent.parent / "livecommerce" / "web" / "static" / "i18n"


async def _methods(client: httpx.AsyncClient, user: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.get("/api/me/payment-methods", headers=user["headers"])
    assert r.status_code == 200, r.text
    methods: list[dict[str, Any]] = r.json()
    return methods


async def test_choose_the_default_card_and_remove_cards(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    user = await buyer(actors)  # pm_card_visa, the default
    visa = user["payment_method_id"]
    r = await client.post(
        "/api/me/payment-methods",
        json={"token": "pm_card_mastercard", "is_default": False},
        headers=user["headers"],
    )
    assert r.status_code == 201, r.text
    master = r.json()["id"]
    r = await client.patch(
        f"/api/me/payment-methods/{master}", json={"is_default": True}, headers=user["headers"]
    )
    assert r.status_code == 200 and r.json()["is_default"] is True, r.text
    assert {m["id"]: m["is_default"] for m in await _methods(client, user)} == {
        visa: False,
        master: True,
    }
    # Removing the default makes the newest remaining card the default.
    r = await client.delete(f"/api/me/payment-methods/{master}", headers=user["headers"])
    assert r.status_code == 204, r.text
    assert [(m["id"], m["is_default"]) for m in await _methods(client, user)] == [(visa, True)]
    r = await client.delete(f"/api/me/payment-methods/{master}", headers=user["headers"])
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await client.delete(f"/api/me/payment-methods/{visa}", headers=user["headers"])
    assert r.status_code == 204
    assert await _methods(client, user) == []


async def test_another_users_card_is_not_found(client: httpx.AsyncClient, actors: Actors) -> None:
    owner = await buyer(actors)
    other = await actors.user("viewer")
    method = owner["payment_method_id"]
    r = await client.patch(
        f"/api/me/payment-methods/{method}", json={"is_default": False}, headers=other["headers"]
    )
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await client.delete(f"/api/me/payment-methods/{method}", headers=other["headers"])
    assert r.status_code == 404
    r = await client.delete(f"/api/me/payment-methods/{method}")
    assert r.status_code == 401
    assert [m["id"] for m in await _methods(client, owner)] == [method]  # untouched
    r = await client.patch(
        f"/api/me/payment-methods/{method}", json={"is_default": "yes"}, headers=owner["headers"]
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "is_default"]


async def test_test_cards_are_listed_outside_production(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/payments/test-cards")
    assert r.status_code == 200
    cards = {c["token"]: c for c in r.json()}
    assert cards["pm_card_visa"] == {
        "token": "pm_card_visa",
        "brand": "visa",
        "last4": "4242",
        "behaviour": "ok",
    }
    assert cards["pm_card_declined"]["behaviour"] == "card_declined"


async def test_the_buyer_asks_for_a_refund_and_the_brand_sees_it(
    server: ServerThread, client: httpx.AsyncClient, actors: Actors
) -> None:
    owner = await actors.brand()
    product = await actors.product(stock=5, owner=owner)
    user = await buyer(actors)
    order = (await buy(client, user, product)).json()
    url = f"/api/orders/{order['id']}/refund-request"
    hub = await HubClient.open(server.url, token=user["token"])
    try:
        await hub.wait(lambda f: f["type"] == "hello")
        # only the buyer may ask; the brand and strangers get 404 (no probing)
        stranger = await actors.user("viewer")
        for who in (stranger, owner[1]):
            r = await client.post(url, json={}, headers=who["headers"])
            assert r.status_code == 404, r.text
        r = await client.post(url, json={"reason": "Wrong size"}, headers=user["headers"])
        assert r.status_code == 200, r.text
        asked = r.json()
        assert asked["status"] == "paid" and asked["refund_reason"] == "Wrong size"
        assert asked["refund_requested_at"] is not None
        # the buyer's open pages hear of it, once: asking again changes nothing, says nothing
        await hub.wait(lambda f: f["type"] == "order_status" and f["status"] == "refund_requested")
        r = await client.post(url, json={"reason": "Changed my mind"}, headers=user["headers"])
        assert r.status_code == 200 and r.json() == asked
        # the selling brand sees the request on the order; another brand does not see the order
        r = await client.get(f"/api/orders/{order['id']}", headers=owner[1]["headers"])
        assert r.status_code == 200 and r.json()["refund_reason"] == "Wrong size"
        other_brand = await actors.brand()
        r = await client.get(f"/api/orders/{order['id']}", headers=other_brand[1]["headers"])
        assert r.status_code == 404
        # the brand refunds it: the request stays on record
        r = await client.post(f"/api/orders/{order['id']}/refund", headers=owner[1]["headers"])
        assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
        assert r.json()["refund_requested_at"] == asked["refund_requested_at"]
        await hub.wait(lambda f: f["type"] == "order_status" and f["status"] == "refunded")
        statuses = [f["status"] for f in hub.events("order_status")]
    finally:
        await hub.close()
    assert statuses == ["refund_requested", "refunded"]


async def test_a_refund_request_needs_a_paid_or_fulfilled_order_within_the_window(
    client: httpx.AsyncClient, actors: Actors, db: Database
) -> None:
    owner = await actors.brand()
    product = await actors.product(stock=5, owner=owner)
    user = await buyer(actors)
    refunded = (await buy(client, user, product)).json()
    r = await client.post(f"/api/orders/{refunded['id']}/refund", headers=owner[1]["headers"])
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/orders/{refunded['id']}/refund-request", json={}, headers=user["headers"]
    )
    assert r.status_code == 409 and r.json()["code"] == "not_refundable", r.text

    old = (await buy(client, user, product)).json()
    r = await client.post(f"/api/orders/{old['id']}/fulfil", headers=owner[1]["headers"])
    assert r.status_code == 200, r.text
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(Order)
            .where(Order.id == old["id"])
            .values(created_at=datetime.now(UTC) - timedelta(days=31))
        )
    r = await client.post(
        f"/api/orders/{old['id']}/refund-request", json={}, headers=user["headers"]
    )
    assert r.status_code == 409 and r.json()["code"] == "return_window_closed", r.text
    assert "closed_at" in r.json()
    r = await client.post(
        f"/api/orders/{old['id']}/refund-request",
        json={"reason": "x" * 501},
        headers=user["headers"],
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "reason"]


def test_the_refund_request_rule() -> None:
    bought = datetime(2026, 11, 1, tzinfo=UTC)
    ok = {"purchased_at": bought, "requested_at": None, "window_days": 30}
    assert check_refund_request(status="paid", now=bought + timedelta(days=29), **ok) is True
    assert check_refund_request(status="fulfilled", now=bought, **ok) is True
    for status in ("pending", "cancelled", "refunded"):
        with pytest.raises(Conflict) as refused:
            check_refund_request(status=status, now=bought, **ok)
        assert refused.value.code == "not_refundable"
    with pytest.raises(Conflict) as late:
        check_refund_request(status="paid", now=bought + timedelta(days=30), **ok)
    assert late.value.code == "return_window_closed"
    with pytest.raises(Conflict):
        check_refund_request(status="paid", now=bought, **{**ok, "window_days": 0})
    # already asked: no error whatever the status now, and nothing to record
    asked = {**ok, "requested_at": bought}
    assert (
        check_refund_request(status="refunded", now=bought + timedelta(days=99), **asked) is False
    )


def test_every_order_status_payment_status_and_test_card_has_its_text() -> None:
    # The account and orders pages build these keys from what the API sends.
    english = encoding.loads((CATALOG / "en.json").read_bytes())
    wanted = [
        *(f"orders.status_{s.value}" for s in OrderStatus),
        *(f"orders.payment_{s}" for s in ("captured", "refunded")),
        *(f"card.behaviour_{behaviour}" for _, _, behaviour in TEST_CARDS.values()),
    ]
    assert [k for k in wanted if k not in english] == []
