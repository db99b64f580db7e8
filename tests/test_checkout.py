"""Instant buy and checkout against the real server, Valkey/Redis and SQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sqlalchemy import func, select

from cart.metrics import CartMetrics
from cart.payments import gateways_for
from cart.reaper import ReapReport, reap_once, refunder
from cart.reconcile import reconcile
from cart.stock import HoldPayment, ReserveStatus, StockStore
from livecommerce.db.engine import Database
from livecommerce.db.models import CommissionEntry, Order, Payment
from livecommerce.settings import Settings
from livecommerce.stocklevels import units_left
from tests.cart_support import authorizations, bulk_buyers, buy, buyer, sold_in_sql
from tests.support import Actors, wait_for


async def _left(redis: Redis, product_id: int) -> int | None:
    variants = await units_left(redis, product_id)
    return None if variants is None else sum(variants.values())


async def test_buy_confirms_order_with_commission(
    client: httpx.AsyncClient, actors: Actors, db: Database, redis: Redis
) -> None:
    product = await actors.product(stock=5, price=2000, commission_bps=1500)
    show = await actors.show(product_ids=[product["id"]], live=True)
    assert await _left(redis, product["id"]) == 5  # going live put the lineup on sale
    user = await buyer(actors)
    r = await buy(client, user, product, quantity=2, session_id=show["id"])
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "paid" and order["total_minor"] == 4000
    assert order["session_id"] == show["id"] and order["creator_id"] == show["host"]["id"]
    assert order["items"][0]["unit_price_minor"] == 2000
    assert await _left(redis, product["id"]) == 3
    # history: the buyer sees it; another user does not (404, not 403)
    mine = (await client.get("/api/orders", headers=user["headers"])).json()
    assert [o["id"] for o in mine["items"]] == [order["id"]]
    assert (await client.get(f"/api/orders/{order['id']}", headers=user["headers"])).json()[
        "payment_status"
    ] == "captured"
    other = await actors.user()
    assert (
        await client.get(f"/api/orders/{order['id']}", headers=other["headers"])
    ).status_code == 404
    earnings = (await client.get("/api/me/earnings", headers=show["host"]["headers"])).json()
    assert earnings["totals"] == {"USD": 600}  # 15% of 4000
    assert earnings["entries"][0]["order_id"] == order["id"]


async def test_idempotency_key_rules(
    client: httpx.AsyncClient, actors: Actors, db: Database, redis: Redis
) -> None:
    product = await actors.product(stock=5)
    user = await buyer(actors)
    body = {"product_id": product["id"], "variant_id": product["variants"][0]["id"], "quantity": 1}
    r = await client.post("/api/buy", json=body, headers=user["headers"])
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"
    headers = {**user["headers"], "Idempotency-Key": "order-1"}
    first = await client.post("/api/buy", json=body, headers=headers)
    again = await client.post("/api/buy", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = await client.post("/api/buy", json={**body, "quantity": 2}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_mismatch"
    assert await _left(redis, product["id"]) == 4
    async with db.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Order).where(Order.user_id == user["id"])
        )
    assert count == 1
    # the same key from another user is another purchase
    user2 = await buyer(actors)
    r = await client.post(
        "/api/buy", json=body, headers={**user2["headers"], "Idempotency-Key": "order-1"}
    )
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]


async def test_retry_while_running_charges_once(
    client: httpx.AsyncClient, actors: Actors, db: Database
) -> None:
    product = await actors.product(stock=5)
    user = await buyer(actors, card="pm_card_slow")  # the gateway answers after 2 s
    key = uuid.uuid4().hex
    first, second = await asyncio.gather(
        buy(client, user, product, key=key), buy(client, user, product, key=key)
    )
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(await authorizations(db, [first.json()["id"]])) == 1
    assert await sold_in_sql(db, product["id"]) == 1


@pytest.mark.parametrize(
    ("card", "code"),
    [
        ("pm_card_declined", "card_declined"),
        ("pm_card_insufficient_funds", "insufficient_funds"),
        ("pm_card_capture_fails", "capture_failed"),
    ],
)
async def test_payment_failure_releases_hold(
    client: httpx.AsyncClient, actors: Actors, redis: Redis, card: str, code: str
) -> None:
    product = await actors.product(stock=3)
    await actors.show(product_ids=[product["id"]], live=True)
    user = await buyer(actors, card=card)
    key = uuid.uuid4().hex
    r = await buy(client, user, product, quantity=2, key=key)
    assert r.status_code == 402, r.text
    assert r.json()["code"] == code
    assert await _left(redis, product["id"]) == 3  # released at once, not after the TTL
    replay = await buy(client, user, product, quantity=2, key=key)
    assert replay.status_code == 402 and replay.json() == r.json()


async def test_per_user_cap(client: httpx.AsyncClient, actors: Actors, settings: Settings) -> None:
    cap = settings.cart_max_units_per_user
    product = await actors.product(stock=cap + 5)
    user = await buyer(actors)
    assert (await buy(client, user, product, quantity=cap)).status_code == 201
    r = await buy(client, user, product, quantity=1)
    assert r.status_code == 409 and r.json()["code"] == "limit_exceeded"
    other = await buyer(actors)
    assert (await buy(client, other, product, quantity=1)).status_code == 201


async def test_out_of_stock_and_bad_input(client: httpx.AsyncClient, actors: Actors) -> None:
    product = await actors.product(stock=1)
    user = await buyer(actors)
    r = await buy(client, user, product, quantity=2)
    assert r.status_code == 409 and r.json()["code"] == "out_of_stock"
    assert r.json()["available"] == 1
    r = await client.post(
        "/api/buy",
        json={"product_id": product["id"], "variant_id": 999_999_999, "quantity": 1},
        headers={**user["headers"], "Idempotency-Key": "x"},
    )
    assert r.status_code == 404
    nobody = await actors.user()  # no address, no card
    r = await buy(client, nobody, product)
    assert r.status_code == 409 and r.json()["code"] == "no_payment_method"
    r = await client.post(
        "/api/me/payment-methods", json={"token": "pm_card_bogus"}, headers=user["headers"]
    )
    assert r.status_code == 422
    r = await client.post("/api/buy", json={"product_id": product["id"]})
    assert r.status_code == 401


async def test_500_concurrent_buyers_50_units(
    client: httpx.AsyncClient, actors: Actors, db: Database, settings: Settings, redis: Redis
) -> None:
    product = await actors.product(stock=50)
    show = await actors.show(product_ids=[product["id"]], live=True)
    buyers = await bulk_buyers(db, settings, 500)
    # one connection per buyer, as in a real flash sale (and no keep-alive reuse races)
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=str(client.base_url), timeout=60, limits=limits) as c:
        replies = await asyncio.gather(*(buy(c, b, product, session_id=show["id"]) for b in buyers))
    statuses = Counter(r.status_code for r in replies)
    assert statuses == {201: 50, 409: 450}, statuses
    assert {r.json()["code"] for r in replies if r.status_code == 409} == {"out_of_stock"}
    confirmed = [r.json()["id"] for r in replies if r.status_code == 201]
    async with db.sessions() as session:
        in_sql = set(await session.scalars(select(Order.id).where(Order.id.in_(confirmed))))
    assert in_sql == set(confirmed)
    assert await sold_in_sql(db, product["id"]) == 50
    assert await _left(redis, product["id"]) == 0
    assert len(set(await authorizations(db, confirmed))) == 50


async def test_expired_hold_returns_its_unit(actors: Actors, db: Database, redis: Redis) -> None:
    product = await actors.product(stock=4)
    await actors.show(product_ids=[product["id"]], live=True)
    variant = product["variants"][0]["id"]
    stock = StockStore(redis)
    now_ms = int(time.time() * 1000)
    r = await stock.reserve(
        product["id"], "abandoned-hold", {variant: 3}, user_id=1, expires_at_ms=now_ms + 300
    )
    assert r.units_left == 1

    async def returned() -> bool:
        return await _left(redis, product["id"]) == 4

    # the server's reaper (every 0.2 s in tests) returns the units after expiry
    await wait_for(returned, timeout=5)
    assert await stock.holds(product["id"]) == []
    await stock.mux.aclose()


async def test_a_checkout_that_dies_between_payment_and_order_is_refunded_by_the_reaper(
    actors: Actors, db: Database, redis: Redis, settings: Settings
) -> None:
    product = await actors.product(stock=3)
    await actors.show(product_ids=[product["id"]], live=True)
    pid, variant = product["id"], product["variants"][0]["id"]
    stock = StockStore(redis)
    now_ms = int(time.time() * 1000)
    # What checkout does up to the capture, then the process "dies": no order in SQL.
    r = await stock.reserve(pid, "died-after-paying", {variant: 2}, user_id=1, expires_at_ms=now_ms)
    assert r.status == ReserveStatus.RESERVED
    paid = HoldPayment("test", "tauth_of_a_dead_checkout", 3998)
    assert await stock.claim(pid, "died-after-paying", now_ms + 60_000, paid)
    assert await stock.payment_of(pid, "died-after-paying") == paid
    refunded: list[HoldPayment] = []

    async def refund(payment: HoldPayment) -> bool:
        refunded.append(payment)
        return True

    # Claimed: the reaper leaves it alone until the claim's expiry...
    report = await reap_once(db, stock, now_ms=now_ms + 1_000, refund=refund)
    assert report.released == 0 and refunded == []
    assert await _left(redis, pid) == 1
    # ...then returns the units AND the money, as no order used the hold.
    report = await reap_once(db, stock, now_ms=now_ms + 61_000, refund=refund)
    assert (report.released, report.refunded, refunded) == (1, 1, [paid])
    assert await _left(redis, pid) == 3
    assert await stock.payment_of(pid, "died-after-paying") is None
    # The component's refunder reaches the gateway that took the payment.
    assert await refunder(gateways_for(settings.secret_key))(paid) is True
    await stock.mux.aclose()


async def test_refund_reverses_commission_and_returns_units(
    client: httpx.AsyncClient, actors: Actors, db: Database, redis: Redis
) -> None:
    owner = await actors.brand()
    product = await actors.product(stock=5, price=1000, commission_bps=1000, owner=owner)
    show = await actors.show(product_ids=[product["id"]], live=True)
    user = await buyer(actors)
    order = (await buy(client, user, product, quantity=3, session_id=show["id"])).json()
    host = show["host"]
    assert (await client.get("/api/me/earnings", headers=host["headers"])).json()["totals"] == {
        "USD": 300
    }
    r = await client.post(f"/api/orders/{order['id']}/refund", headers=user["headers"])
    assert r.status_code == 403  # buyers cannot refund themselves
    r = await client.post(f"/api/orders/{order['id']}/refund", headers=owner[1]["headers"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "refunded" and r.json()["payment_status"] == "refunded"
    earnings = (await client.get("/api/me/earnings", headers=host["headers"])).json()
    assert earnings["totals"] == {"USD": 0}
    assert sorted(e["kind"] for e in earnings["entries"]) == ["earned", "reversed"]
    assert await _left(redis, product["id"]) == 5
    again = await client.post(f"/api/orders/{order['id']}/refund", headers=owner[1]["headers"])
    assert again.status_code == 409 and again.json()["code"] == "bad_transition"
    async with db.sessions() as session:
        kinds = list(
            await session.scalars(
                select(CommissionEntry.kind).where(CommissionEntry.order_id == order["id"])
            )
        )
        status = await session.scalar(select(Payment.status).where(Payment.order_id == order["id"]))
    assert sorted(kinds) == ["earned", "reversed"] and status == "refunded"


async def test_fulfil_moves_order_along(client: httpx.AsyncClient, actors: Actors) -> None:
    owner = await actors.brand()
    product = await actors.product(stock=5, owner=owner)
    user = await buyer(actors)
    order = (await buy(client, user, product)).json()
    other_brand = await actors.brand()
    r = await client.post(f"/api/orders/{order['id']}/fulfil", headers=other_brand[1]["headers"])
    assert r.status_code == 403
    r = await client.post(f"/api/orders/{order['id']}/fulfil", headers=owner[1]["headers"])
    assert r.status_code == 200 and r.json()["status"] == "fulfilled"
    r = await client.post(f"/api/orders/{order['id']}/fulfil", headers=owner[1]["headers"])
    assert r.status_code == 409


async def test_flash_price_and_cap(client: httpx.AsyncClient, actors: Actors, redis: Redis) -> None:
    product = await actors.product(stock=10, price=5000)
    show = await actors.show(product_ids=[product["id"]], live=True)
    r = await client.post(
        f"/api/sessions/{show['id']}/pins",
        json={"product_id": product["id"], "flash_price_minor": 1999, "quantity_cap": 3},
        headers=show["host"]["headers"],
    )
    assert r.status_code == 201, r.text
    prices = []
    for quantity in (2, 1, 1):
        user = await buyer(actors)
        r = await buy(client, user, product, quantity=quantity, session_id=show["id"])
        assert r.status_code == 201, r.text
        prices.append(r.json()["items"][0]["unit_price_minor"])
    # 3 units at the flash price, then the normal price (documented in docs/api.md)
    assert prices == [1999, 1999, 5000]
    # without the session, the flash price does not apply
    user = await buyer(actors)
    r = await buy(client, user, product)
    assert r.json()["items"][0]["unit_price_minor"] == 5000


async def test_stock_total_change_and_lazy_reload(
    client: httpx.AsyncClient, actors: Actors, db: Database, redis: Redis
) -> None:
    owner = await actors.brand()
    product = await actors.product(stock=5, owner=owner)
    await actors.show(product_ids=[product["id"]], live=True)
    user = await buyer(actors)
    assert (await buy(client, user, product, quantity=3)).status_code == 201
    variant = product["variants"][0]["id"]
    headers = owner[1]["headers"]
    r = await client.patch(f"/api/variants/{variant}", json={"stock_total": 2}, headers=headers)
    assert r.status_code == 409  # below the 3 sold: refused and rolled back
    r = await client.get(f"/api/products/{product['id']}")
    assert r.json()["variants"][0]["stock_total"] == 5
    r = await client.patch(f"/api/variants/{variant}", json={"stock_total": 8}, headers=headers)
    assert r.status_code == 200
    assert await _left(redis, product["id"]) == 5
    # Redis loses the product's keys (a restart without persistence): the next buy
    # reloads from SQL: 8 total - 3 sold = 5 available, minus this buy's 1
    from livecommerce import keys

    await redis.delete(keys.product_stock(product["id"]), keys.product_counts(product["id"]))
    assert (await buy(client, user, product, quantity=1)).status_code == 201
    assert await _left(redis, product["id"]) == 4
    stock = StockStore(redis)
    report = await reconcile(db, stock)
    await stock.mux.aclose()
    mine = [v for v in report.variants if v.product_id == product["id"]]
    assert mine and all(v.ok for v in mine)
    assert report.oversold == 0


async def test_stock_events_reach_the_session(
    client: httpx.AsyncClient, actors: Actors, redis: Redis
) -> None:
    from livecommerce import encoding, keys

    product = await actors.product(stock=7)
    show = await actors.show(product_ids=[product["id"]], live=True)
    user = await buyer(actors)
    assert (await buy(client, user, product, quantity=2, session_id=show["id"])).status_code == 201

    async def seen() -> bool:
        entries = await redis.xrange(keys.session_events(show["id"]))
        events = [encoding.loads(fields[b"e"]) for _, fields in entries]
        stock = [e for e in events if e["type"] == "stock" and e["product_id"] == product["id"]]
        return bool(stock) and stock[-1]["units_left"] == 5

    await wait_for(seen, timeout=5)


def _sample(text: str, name: str, labels: str = "") -> float:
    line = next((x for x in text.splitlines() if x.startswith(f"{name}{labels} ")), None)
    return 0.0 if line is None else float(line.split()[-1])


async def test_cart_metrics_count_outcomes_latency_and_order_batches(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    async def scrape() -> str:
        return (await client.get("/metrics")).text

    before = await scrape()
    product = await actors.product(stock=1)
    first, second = await buyer(actors), await buyer(actors)
    assert (await buy(client, first, product)).status_code == 201
    assert (await buy(client, second, product)).status_code == 409  # sold out
    after = await scrape()

    def grew(name: str, labels: str = "") -> float:
        return _sample(after, name, labels) - _sample(before, name, labels)

    assert grew("livecommerce_cart_checkouts_total", '{outcome="confirmed"}') >= 1
    assert grew("livecommerce_cart_checkouts_total", '{outcome="out_of_stock"}') >= 1
    assert grew("livecommerce_cart_checkout_seconds_count") >= 2
    assert grew("livecommerce_cart_orders_written_total") >= 1
    assert grew("livecommerce_cart_order_batch_size_count") >= 1


def test_reaper_rounds_count_holds_by_result() -> None:
    registry = CollectorRegistry()
    metrics = CartMetrics(registry)
    metrics.reaped(ReapReport(released=2, confirmed=1, refunded=1))
    metrics.reaped(ReapReport(released=1))
    for result, n in (("released", 3), ("confirmed", 1), ("refunded", 1)):
        assert (
            registry.get_sample_value("livecommerce_cart_holds_reaped_total", {"result": result})
            == n
        )
