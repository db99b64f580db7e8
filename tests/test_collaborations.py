"""Open and targeted collaborations: the bounded rate, offers a creator accepts or
declines, and the rate lock, tested by moving the server's clock (never by sleeping)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from livecommerce.clock import Clock
from livecommerce.creators.rates import commission_rates
from livecommerce.db.engine import Database
from livecommerce.settings import Settings
from tests.support import Actors, ServerThread, random_address


@pytest.fixture(scope="module")
def collab_server(settings: Settings) -> Iterator[ServerThread]:
    """A server of this module's own, so moving its clock moves no one else's."""
    thread = ServerThread(settings, clock=Clock()).start()
    yield thread
    thread.stop()


@pytest.fixture
async def cclient(collab_server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"X-Forwarded-For": random_address()}
    async with httpx.AsyncClient(base_url=collab_server.url, timeout=30, headers=headers) as c:
        yield c


@pytest.fixture
async def cactors(cclient: httpx.AsyncClient, db: Database) -> Actors:
    return Actors(cclient, db)


def _field(r: httpx.Response, status: int, field: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    assert errors[0]["loc"] == ["body", field], errors
    kind: str = errors[0]["type"]
    return kind


async def _rates(db: Database, creator_id: int, product_id: int, at: datetime) -> int:
    async with db.sessions() as session:
        rates = await commission_rates(
            session, creator_id=creator_id, product_ids=[product_id], attributed_at=at
        )
    return rates[product_id]


async def test_open_rate_is_bounded_and_only_its_brand_sets_it(
    cactors: Actors, cclient: httpx.AsyncClient
) -> None:
    owner = await cactors.brand()
    product = await cactors.product(owner=owner, commission_bps=500)
    brand = owner[1]
    url = f"/api/products/{product['id']}/collaboration"

    r = await cclient.get(url)
    assert r.status_code == 200 and r.json()["open"] is False, r.text

    for bad in (0, 99, 8001, 10_000):
        r = await cclient.put(url, json={"rate_bps": bad}, headers=brand["headers"])
        assert _field(r, 422, "rate_bps") == "rate_out_of_range"
    r = await cclient.put(url, json={"rate_bps": 10_001}, headers=brand["headers"])
    assert _field(r, 422, "rate_bps") == "less_than_equal"
    r = await cclient.put(url, json={"rate_bps": "1000"}, headers=brand["headers"])
    assert _field(r, 422, "rate_bps") == "int_type"

    other = (await cactors.brand())[1]
    host = await cactors.user("host")
    assert (await cclient.put(url, json={"rate_bps": 1000})).status_code == 401
    for who in (other, host):
        r = await cclient.put(url, json={"rate_bps": 1000}, headers=who["headers"])
        assert r.status_code == 403, r.text

    for edge in (100, 8000):
        r = await cclient.put(url, json={"rate_bps": edge}, headers=brand["headers"])
        assert r.status_code == 200, r.text
        assert r.json() == {
            "product_id": product["id"],
            "brand_id": owner[0],
            "open": True,
            "rate_bps": edge,
            "pending_rate_bps": None,
            "pending_from": None,
        }
    assert (await cclient.get(url)).json()["rate_bps"] == 8000
    r = await cclient.put("/api/products/999999999/collaboration", json={"rate_bps": 1000},
                          headers=brand["headers"])  # fmt: skip
    assert r.status_code == 404


async def test_targeted_offer_is_accepted_or_declined_by_its_creator(
    cactors: Actors, cclient: httpx.AsyncClient, db: Database, collab_server: ServerThread
) -> None:
    owner = await cactors.brand()
    brand = owner[1]
    product = await cactors.product(owner=owner, commission_bps=500)
    pid = product["id"]
    r = await cclient.put(
        f"/api/products/{pid}/collaboration", json={"rate_bps": 1000}, headers=brand["headers"]
    )
    assert r.status_code == 200, r.text
    creator, rival, viewer = (
        await cactors.user("host"),
        await cactors.user("host"),
        await cactors.user("viewer"),
    )
    offers = f"/api/products/{pid}/offers"

    # only to a creator, only above the open rate, only in range
    r = await cclient.post(offers, json={"creator_id": viewer["id"], "rate_bps": 2000},
                           headers=brand["headers"])  # fmt: skip
    assert _field(r, 422, "creator_id") == "not_a_creator"
    r = await cclient.post(offers, json={"creator_id": 987654321, "rate_bps": 2000},
                           headers=brand["headers"])  # fmt: skip
    assert _field(r, 422, "creator_id") == "not_a_creator"
    r = await cclient.post(offers, json={"creator_id": creator["id"], "rate_bps": 1000},
                           headers=brand["headers"])  # fmt: skip
    assert _field(r, 422, "rate_bps") == "rate_not_higher"
    r = await cclient.post(offers, json={"creator_id": creator["id"], "rate_bps": 9000},
                           headers=brand["headers"])  # fmt: skip
    assert _field(r, 422, "rate_bps") == "rate_out_of_range"
    r = await cclient.post(offers, json={"creator_id": creator["id"], "rate_bps": 2500},
                           headers=creator["headers"])  # fmt: skip
    assert r.status_code == 403

    r = await cclient.post(offers, json={"creator_id": creator["id"], "rate_bps": 2500},
                           headers=brand["headers"])  # fmt: skip
    assert r.status_code == 201, r.text
    offer = r.json()
    assert offer["status"] == "offered" and offer["product_name"] == product["name"]
    r = await cclient.get("/api/me/offers?status=offered", headers=creator["headers"])
    assert [o["id"] for o in r.json()] == [offer["id"]]
    assert (await cclient.get("/api/me/offers", headers=rival["headers"])).json() == []
    r = await cclient.get(f"/api/brands/{owner[0]}/offers", headers=brand["headers"])
    assert [o["id"] for o in r.json()] == [offer["id"]]
    other_brand = (await cactors.brand())[1]
    r = await cclient.get(f"/api/brands/{owner[0]}/offers", headers=other_brand["headers"])
    assert r.status_code == 403

    # not offered yet: the open rate; someone else cannot answer it
    now = collab_server.clock.now()
    assert await _rates(db, creator["id"], pid, now) == 1000
    r = await cclient.post(f"/api/offers/{offer['id']}/accept", headers=rival["headers"])
    assert r.status_code == 404, r.text
    r = await cclient.post(f"/api/offers/{offer['id']}/accept", headers=creator["headers"])
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    r = await cclient.post(f"/api/offers/{offer['id']}/decline", headers=creator["headers"])
    assert r.status_code == 409 and r.json()["code"] == "offer_answered", r.text

    later = collab_server.clock.now() + timedelta(seconds=1)
    assert await _rates(db, creator["id"], pid, later) == 2500
    assert await _rates(db, rival["id"], pid, later) == 1000  # the open rate
    assert await _rates(db, creator["id"], pid, now) == 1000  # began before the acceptance

    # a second offer, declined: nothing changes
    r = await cclient.post(offers, json={"creator_id": rival["id"], "rate_bps": 3000},
                           headers=brand["headers"])  # fmt: skip
    declined = r.json()
    r = await cclient.post(f"/api/offers/{declined['id']}/decline", headers=rival["headers"])
    assert r.status_code == 200 and r.json()["status"] == "declined"
    assert await _rates(db, rival["id"], pid, collab_server.clock.now()) == 1000

    # the marketplace shows each creator their own rate
    r = await cclient.get("/api/marketplace", params={"brand_id": owner[0]},
                          headers=creator["headers"])  # fmt: skip
    assert [(i["product_id"], i["rate_bps"], i["targeted"]) for i in r.json()["items"]] == [
        (pid, 2500, True)
    ]
    r = await cclient.get("/api/marketplace", params={"brand_id": owner[0]},
                          headers=rival["headers"])  # fmt: skip
    assert [(i["rate_bps"], i["targeted"]) for i in r.json()["items"]] == [(1000, False)]


async def test_rate_lock_keeps_a_cut_away_from_begun_attributions(
    cactors: Actors, cclient: httpx.AsyncClient, db: Database, collab_server: ServerThread
) -> None:
    clock = collab_server.clock
    start = clock.offset_s
    try:
        await _rate_lock(cactors, cclient, db, clock)
    finally:
        clock.offset_s = start


async def _rate_lock(
    cactors: Actors, cclient: httpx.AsyncClient, db: Database, clock: Clock
) -> None:
    owner = await cactors.brand()
    brand = owner[1]
    product = await cactors.product(owner=owner, commission_bps=500)
    pid = product["id"]
    url = f"/api/products/{pid}/collaboration"
    creator = await cactors.user("host")

    async def put(rate: int) -> dict[str, Any]:
        r = await cclient.put(url, json={"rate_bps": rate}, headers=brand["headers"])
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def rate_at(at: datetime) -> Any:
        return _rates(db, creator["id"], pid, at)

    never_open = clock.now()
    await put(3000)
    clicked = clock.now()  # an attribution that begins before the cut
    assert await rate_at(never_open - timedelta(seconds=1)) == 500  # the product's own
    assert await rate_at(clicked) == 3000

    clock.advance(days=2)
    cut_at = clock.now()
    body = await put(1000)
    assert body["rate_bps"] == 3000 and body["pending_rate_bps"] == 1000
    lock_ends = datetime.fromisoformat(body["pending_from"])
    assert cut_at + timedelta(days=30) <= lock_ends <= clock.now() + timedelta(days=30)

    # within the lock: begun before the cut, or since, the old rate holds
    clock.advance(days=29)
    assert await rate_at(clicked) == 3000
    assert await rate_at(clock.now()) == 3000
    assert (await cclient.get(url)).json()["rate_bps"] == 3000

    # after the lock: attributions that begin now earn the new rate; the click from
    # before the cut keeps the rate in force when it began
    clock.advance(days=1, seconds=1)
    assert await rate_at(clock.now()) == 1000
    assert await rate_at(clicked) == 3000
    got = (await cclient.get(url)).json()
    assert (got["rate_bps"], got["pending_rate_bps"], got["pending_from"]) == (1000, None, None)

    # a raise applies at once, and replaces a cut still waiting
    await put(600)  # a cut: waits
    raised = await put(4000)
    assert (raised["rate_bps"], raised["pending_rate_bps"]) == (4000, None)
    assert await rate_at(clock.now()) == 4000
    clock.advance(days=31)
    assert await rate_at(clock.now()) == 4000  # the waiting cut is gone

    # closing is a cut too: open until the lock ends, then the product's own rate
    r = await cclient.delete(url, headers=brand["headers"])
    assert r.status_code == 200 and r.json()["pending_rate_bps"] == 0, r.text
    clock.advance(days=29)
    assert (await cclient.get(url)).json()["open"] is True
    assert await rate_at(clock.now()) == 4000
    clock.advance(days=1, seconds=1)
    assert (await cclient.get(url)).json()["open"] is False
    assert await rate_at(clock.now()) == 500
    assert (await cclient.delete(url, headers=brand["headers"])).status_code == 404

    # an accepted offer withdrawn by the brand still applies until the lock ends
    await put(1000)
    r = await cclient.post(f"/api/products/{pid}/offers",
                           json={"creator_id": creator["id"], "rate_bps": 2000},
                           headers=brand["headers"])  # fmt: skip
    offer = r.json()
    r = await cclient.post(f"/api/offers/{offer['id']}/accept", headers=creator["headers"])
    assert r.status_code == 200, r.text
    clock.advance(seconds=5)
    r = await cclient.delete(f"/api/offers/{offer['id']}", headers=brand["headers"])
    assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
    clock.advance(days=29)
    assert await rate_at(clock.now()) == 2000
    clock.advance(days=1, seconds=1)
    assert await rate_at(clock.now()) == 1000


async def test_a_show_host_earns_the_collaboration_rate_without_asking(
    cactors: Actors, cclient: httpx.AsyncClient, db: Database, collab_server: ServerThread
) -> None:
    """Any creator features any brand's product in a show (no deal, no request); what the
    show's host earns on it is the collaboration rate, at the show's start."""
    owner = await cactors.brand()
    product = await cactors.product(owner=owner, commission_bps=500)
    r = await cclient.put(f"/api/products/{product['id']}/collaboration",
                          json={"rate_bps": 1500}, headers=owner[1]["headers"])  # fmt: skip
    assert r.status_code == 200, r.text
    host = await cactors.user("host")
    show = await cactors.show(host, product_ids=[product["id"]], live=True)
    r = await cclient.get(f"/api/sessions/{show['id']}")
    assert [p["id"] for p in r.json()["lineup"]] == [product["id"]], r.text
    started = datetime.fromisoformat(show["started_at"])
    assert await _rates(db, host["id"], product["id"], started) == 1500


def test_the_rate_range_settings_cannot_be_empty() -> None:
    from livecommerce.settings import SettingsError

    s = Settings.from_env({"COLLAB_MIN_RATE_BPS": "200", "COLLAB_RATE_LOCK_DAYS": "7"})
    assert (s.collab_min_rate_bps, s.collab_max_rate_bps, s.collab_rate_lock_days) == (200, 8000, 7)
    with pytest.raises(SettingsError, match="COLLAB_MAX_RATE_BPS"):
        Settings.from_env({"COLLAB_MIN_RATE_BPS": "500", "COLLAB_MAX_RATE_BPS": "400"})
    with pytest.raises(SettingsError, match="COLLAB_MIN_RATE_BPS"):
        Settings.from_env({"COLLAB_MIN_RATE_BPS": "0"})
