"""The commission lifecycle and payouts against a real server, Valkey/Redis and SQL, with
the server's clock moved (never slept): pending -> payable after the return window ->
paid once by a payouts run; a refund inside the window reverses, one after a payout
becomes an adjustment carried into the next payout; payouts per creator and currency,
the minimum carried over, reruns idempotent, statements and the books check."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from cart.payouts.check import check_books
from cart.payouts.gateway import TestPayoutGateway
from cart.payouts.run import PayoutReport, run_payouts
from livecommerce.db.engine import Database
from livecommerce.settings import Settings
from livecommerce.web.shortlinks import VISITOR_COOKIE
from tests.cart_support import buy, buyer
from tests.support import Actors, ServerThread, hyperloglog_count, random_address

WINDOW_DAYS = 30


@pytest.fixture(scope="module")
def own_server(settings: Settings) -> Iterator[ServerThread]:
    """A server of this module's own: moving its clock leaves the suite's server alone."""
    thread = ServerThread(settings.with_(return_window_days=WINDOW_DAYS)).start()
    yield thread
    thread.stop()


@pytest.fixture
async def oclient(own_server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"X-Forwarded-For": random_address()}
    async with httpx.AsyncClient(base_url=own_server.url, timeout=30, headers=headers) as c:
        yield c


@pytest.fixture
def gateway(tmp_path: Path) -> TestPayoutGateway:
    return TestPayoutGateway(tmp_path / "payouts.jsonl")


async def _earn(
    client: httpx.AsyncClient,
    actors: Actors,
    *,
    host: dict[str, Any] | None = None,
    price: int = 1000,
    bps: int = 1000,
    quantity: int = 1,
    currency: str = "USD",
) -> tuple[dict[str, Any], dict[str, Any], tuple[int, dict[str, Any]]]:
    """A live show of ``host`` selling one product, bought once: (order, show, brand)."""
    owner = await actors.brand()
    brand_id, brand_user = owner
    r = await client.post(
        f"/api/brands/{brand_id}/products",
        json={
            "name": f"P-{uuid.uuid4().hex[:8]}",
            "price_minor": price,
            "currency": currency,
            "commission_bps": bps,
            "variants": [{"sku": uuid.uuid4().hex[:12], "name": "V", "stock_total": 20}],
        },
        headers=brand_user["headers"],
    )
    assert r.status_code == 201, r.text
    product = r.json()
    show = await actors.show(host, product_ids=[product["id"]], live=True)
    user = await buyer(actors)
    r = await buy(client, user, product, quantity=quantity, session_id=show["id"])
    assert r.status_code == 201, r.text
    return r.json(), show, owner


async def _earnings(client: httpx.AsyncClient, host: dict[str, Any]) -> dict[str, Any]:
    r = await client.get("/api/me/earnings", headers=host["headers"])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _pay(
    db: Database,
    gateway: TestPayoutGateway,
    server: ServerThread,
    creators: list[int],
    *,
    minimum: int = 100,
) -> PayoutReport:
    return await run_payouts(
        db, gateway, now=server.clock.now(), minimum_minor=minimum, creator_ids=creators
    )


async def test_pending_payable_paid_then_a_late_refund_is_carried_into_the_next_payout(
    oclient: httpx.AsyncClient, own_server: ServerThread, db: Database, gateway: TestPayoutGateway
) -> None:
    actors = Actors(oclient, db)
    host = await actors.user("host")
    order, show, owner = await _earn(oclient, actors, host=host, price=1999, quantity=3)
    commission = 1999 * 3 * 1000 // 10_000  # 599 (rounded down, in cents)
    e = await _earnings(oclient, host)
    assert (e["pending"], e["payable"], e["paid"], e["totals"]) == (
        {"USD": commission},
        {"USD": 0},
        {"USD": 0},
        {"USD": commission},
    )
    entry = e["entries"][0]
    assert entry["status"] == "pending" and entry["payout_id"] is None
    assert [s["session_id"] for s in e["by_show"]] == [show["id"]]
    assert e["by_show"][0]["pending_minor"] == commission and e["by_show"][0]["orders"] == 1
    # Inside the window nothing is paid.
    assert (await _pay(db, gateway, own_server, [host["id"]])).paid == []

    own_server.clock.advance(days=WINDOW_DAYS, seconds=1)
    e = await _earnings(oclient, host)
    assert (e["pending"], e["payable"]) == ({"USD": 0}, {"USD": commission})
    assert e["entries"][0]["status"] == "payable"

    report = await _pay(db, gateway, own_server, [host["id"]])
    assert len(report.paid) == 1
    payout_id = report.paid[0]
    e = await _earnings(oclient, host)
    assert (e["payable"], e["paid"]) == ({"USD": 0}, {"USD": commission})
    assert e["entries"][0]["status"] == "paid" and e["entries"][0]["payout_id"] == payout_id
    listed = (await oclient.get("/api/me/payouts", headers=host["headers"])).json()
    assert [p["id"] for p in listed["items"]] == [payout_id]
    statement = (await oclient.get(f"/api/me/payouts/{payout_id}", headers=host["headers"])).json()
    assert statement["status"] == "paid" and statement["amount_minor"] == commission
    assert [x["order_id"] for x in statement["entries"]] == [order["id"]]
    assert sum(x["amount_minor"] for x in statement["entries"]) == statement["amount_minor"]
    assert statement["transfer_id"] == gateway.transfers()[0].id

    # A refund after the payout: an adjustment, payable at once, netted next time.
    r = await oclient.post(f"/api/orders/{order['id']}/refund", headers=owner[1]["headers"])
    assert r.status_code == 200, r.text
    e = await _earnings(oclient, host)
    assert (e["paid"], e["payable"], e["totals"]) == (
        {"USD": commission},
        {"USD": -commission},
        {"USD": 0},
    )
    assert e["entries"][0]["kind"] == "adjustment" and e["entries"][0]["status"] == "payable"
    # Alone it is below any minimum: carried over, not sent.
    report = await _pay(db, gateway, own_server, [host["id"]])
    assert report.paid == [] and report.carried_over == [(host["id"], "USD", -commission)]
    second, _, _ = await _earn(oclient, actors, host=host, price=5000, quantity=2)
    own_server.clock.advance(days=WINDOW_DAYS, seconds=1)
    report = await _pay(db, gateway, own_server, [host["id"]])
    assert len(report.paid) == 1
    statement = (
        await oclient.get(f"/api/me/payouts/{report.paid[0]}", headers=host["headers"])
    ).json()
    assert statement["amount_minor"] == 1000 - commission  # 10% of 10000, less the refund
    assert sorted(x["kind"] for x in statement["entries"]) == ["adjustment", "earned"]
    assert [t.amount_minor for t in gateway.transfers()] == [commission, 1000 - commission]
    e = await _earnings(oclient, host)
    assert (e["pending"], e["payable"], e["paid"]) == (
        {"USD": 0},
        {"USD": 0},
        {"USD": 1000},
    )
    assert second["id"] in [x["order_id"] for x in statement["entries"]]


async def test_refund_inside_the_window_reverses_and_nothing_is_paid(
    oclient: httpx.AsyncClient, own_server: ServerThread, db: Database, gateway: TestPayoutGateway
) -> None:
    actors = Actors(oclient, db)
    host = await actors.user("host")
    order, _, owner = await _earn(oclient, actors, host=host, price=2500)
    r = await oclient.post(f"/api/orders/{order['id']}/refund", headers=owner[1]["headers"])
    assert r.status_code == 200, r.text
    e = await _earnings(oclient, host)
    assert (e["pending"], e["reversed"], e["totals"]) == ({"USD": 0}, {"USD": 250}, {"USD": 0})
    assert {x["status"] for x in e["entries"]} == {"reversed"}
    assert e["by_show"][0]["reversed_minor"] == 250
    own_server.clock.advance(days=WINDOW_DAYS + 1)
    report = await _pay(db, gateway, own_server, [host["id"]])
    assert report.paid == [] and report.carried_over == []
    assert gateway.transfers() == []


async def test_payouts_per_creator_and_currency_minimum_carried_over_reruns_pay_nothing(
    oclient: httpx.AsyncClient, own_server: ServerThread, db: Database, gateway: TestPayoutGateway
) -> None:
    actors = Actors(oclient, db)
    big, small = await actors.user("host"), await actors.user("host")
    await _earn(oclient, actors, host=big, price=3000)  # 300 USD
    await _earn(oclient, actors, host=big, price=2000)  # 200 USD
    await _earn(oclient, actors, host=big, price=4000, currency="EUR")  # 400 EUR
    await _earn(oclient, actors, host=small, price=900)  # 90 USD: under the minimum
    own_server.clock.advance(days=WINDOW_DAYS + 1)
    creators = [big["id"], small["id"]]
    report = await _pay(db, gateway, own_server, creators, minimum=100)
    assert len(report.paid) == 2 and report.carried_over == [(small["id"], "USD", 90)]
    sent = {(t.creator_id, t.currency): t.amount_minor for t in gateway.transfers()}
    assert sent == {(big["id"], "USD"): 500, (big["id"], "EUR"): 400}
    small_e = await _earnings(oclient, small)
    assert (small_e["payable"], small_e["paid"]) == ({"USD": 90}, {"USD": 0})
    assert (await oclient.get("/api/me/payouts", headers=small["headers"])).json()["items"] == []

    # A rerun pays nothing again.
    again = await _pay(db, gateway, own_server, creators, minimum=100)
    assert again.paid == [] and again.resumed == []
    assert len(gateway.transfers()) == 2
    # More earnings lift the small creator over the minimum: the carried 90 goes with them.
    await _earn(oclient, actors, host=small, price=500)
    own_server.clock.advance(days=WINDOW_DAYS + 1)
    report = await _pay(db, gateway, own_server, creators, minimum=100)
    assert len(report.paid) == 1
    assert gateway.transfers()[-1].amount_minor == 140
    books = await check_books(db, now=own_server.clock.now())
    assert books.balanced, books


async def test_statements_are_private_and_bad_ids_are_404(
    oclient: httpx.AsyncClient, own_server: ServerThread, db: Database, gateway: TestPayoutGateway
) -> None:
    actors = Actors(oclient, db)
    host, other = await actors.user("host"), await actors.user("host")
    await _earn(oclient, actors, host=host, price=1500)
    own_server.clock.advance(days=WINDOW_DAYS + 1)
    payout_id = (await _pay(db, gateway, own_server, [host["id"]])).paid[0]
    r = await oclient.get(f"/api/me/payouts/{payout_id}", headers=other["headers"])
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    admin = await actors.user("admin")
    r = await oclient.get(f"/api/me/payouts/{payout_id}", headers=admin["headers"])
    assert r.status_code == 200 and r.json()["amount_minor"] == 150
    for bad in ("nope", "0" * 300, "%00"):
        r = await oclient.get(f"/api/me/payouts/{bad}", headers=host["headers"])
        assert r.status_code in (404, 414), r.text
    r = await oclient.get("/api/me/payouts?limit=0", headers=host["headers"])
    assert r.status_code == 422
    assert (await oclient.get("/api/me/payouts")).status_code == 401
    assert (await oclient.get("/api/me/earnings")).status_code == 401


async def test_earnings_per_link_with_clicks_and_conversion(
    oclient: httpx.AsyncClient, own_server: ServerThread, db: Database, redis: Redis
) -> None:
    actors = Actors(oclient, db)
    host = await actors.user("host")
    product = await actors.product(price=1999, commission_bps=1234)
    r = await oclient.post(
        "/api/links", json={"target": "product", "id": product["id"]}, headers=host["headers"]
    )
    assert r.status_code == 201, r.text
    link = r.json()
    tokens, visitors = [], []
    for _ in range(4):  # four clicks from four visitors (each a fresh cookie jar)
        async with httpx.AsyncClient(base_url=own_server.url, timeout=30) as visitor:
            tokens.append((await visitor.get(link["url"])).cookies["lc_attr"])
            visitors.append(visitor.cookies[VISITOR_COOKIE])
    assert len(set(visitors)) == 4
    shopper = await buyer(actors)
    for token in tokens[:2]:  # two of them buy
        body = {
            "product_id": product["id"],
            "variant_id": product["variants"][0]["id"],
            "quantity": 1,
            "attribution": token,
        }
        headers = {**shopper["headers"], "Idempotency-Key": uuid.uuid4().hex}
        r = await oclient.post("/api/buy", json=body, headers=headers)
        assert r.status_code == 201 and r.json()["link_id"] == link["id"], r.text
    r = await oclient.post(
        "/api/links", json={"target": "product", "id": product["id"]}, headers=host["headers"]
    )
    idle = r.json()  # clicked once, sold nothing
    async with httpx.AsyncClient(base_url=own_server.url, timeout=30) as visitor:
        assert (await visitor.get(idle["url"])).status_code in (302, 303, 307)
    e = await _earnings(oclient, host)
    commission = 1999 * 1234 // 10_000
    newest, row = e["by_link"]
    assert (newest["link_id"], newest["currency"], newest["clicks"]) == (idle["id"], None, 1)
    assert (newest["orders"], newest["conversion"], newest["pending_minor"]) == (0, 0.0, 0)
    assert (row["link_id"], row["code"], row["currency"]) == (link["id"], link["code"], "USD")
    uniques = await hyperloglog_count(redis, visitors)  # 4, unless two share a register
    assert (row["clicks"], row["unique_visitors"], row["orders"]) == (4, uniques, 2)
    assert row["conversion"] == 0.5 and row["pending_minor"] == 2 * commission
    assert e["by_show"] == [
        {
            "session_id": None,
            "currency": "USD",
            "pending_minor": 2 * commission,
            "payable_minor": 0,
            "paid_minor": 0,
            "reversed_minor": 0,
            "orders": 2,
        }
    ]
