"""Affiliate links, handles, attribution into checkout, the link-in-bio page (issue 13, C).

Real server, real Valkey, real SQL."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import event, select

from livecommerce import encoding
from livecommerce.auth.tokens import TokenSigner
from livecommerce.creators import attribution
from livecommerce.creators.component import CreatorsComponent
from livecommerce.db.engine import Database
from livecommerce.db.models import CommissionEntry, Order
from livecommerce.settings import Settings
from livecommerce.web.shortlinks import VISITOR_COOKIE
from streaming.hls.store import DirectoryStore
from tests.cart_support import buyer
from tests.support import Actors, ServerThread, hyperloglog_count, unique


async def _link(client: httpx.AsyncClient, user: dict[str, Any], **body: Any) -> httpx.Response:
    return await client.post("/api/links", json=body, headers=user["headers"])


async def _buy(
    client: httpx.AsyncClient,
    user: dict[str, Any],
    product: dict[str, Any],
    *,
    cookies: dict[str, str] | None = None,
    token: str | None = None,
    quantity: int = 1,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "product_id": product["id"],
        "variant_id": product["variants"][0]["id"],
        "quantity": quantity,
    }
    if token is not None:
        body["attribution"] = token
    headers = {**user["headers"], "Idempotency-Key": uuid.uuid4().hex}
    client.cookies.clear()  # only what this call names: the clicks above left theirs
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    r = await client.post("/api/buy", json=body, headers=headers)
    assert r.status_code == 201, r.text
    order: dict[str, Any] = r.json()
    return order


async def _ledger(db: Database, order_id: str) -> list[tuple[int, int, int]]:
    async with db.sessions() as s:
        rows = await s.execute(
            select(
                CommissionEntry.creator_id, CommissionEntry.rate_bps, CommissionEntry.amount_minor
            ).where(CommissionEntry.order_id == order_id)
        )
        return [(int(c), int(b), int(a)) for c, b, a in rows]


async def test_handles_signup_patch_and_reserved(actors: Actors, client: httpx.AsyncClient) -> None:
    host = await actors.user("host")
    me = (await client.get("/api/me", headers=host["headers"])).json()
    assert re.match(r"^[a-z0-9_]{3,30}$", me["handle"])  # hosts get one at sign-up
    wanted = unique("h").replace("-", "_")[:20]
    r = await client.patch("/api/me", json={"handle": wanted}, headers=host["headers"])
    assert r.status_code == 200 and r.json()["handle"] == wanted
    other = await actors.user("host")
    r = await client.patch("/api/me", json={"handle": wanted}, headers=other["headers"])
    assert r.status_code == 409 and r.json()["code"] == "handle_taken"
    for bad, code in (("admin", "reserved_handle"), ("Ab", None), ("x" * 31, None), ("a-b", None)):
        r = await client.patch("/api/me", json={"handle": bad}, headers=other["headers"])
        assert r.status_code == 422, r.text
        if code:
            assert r.json()["code"] == code
    r = await client.post(
        "/api/auth/signup",
        json={
            "email": f"{unique()}@test.livecommerce.dev",
            "password": "correct horse battery",
            "display_name": "X",
            "role": "host",
            "handle": "api",
        },
    )
    assert r.status_code == 422


async def test_link_creation_authorization(actors: Actors, client: httpx.AsyncClient) -> None:
    host, other = await actors.user("host"), await actors.user("host")
    viewer = await actors.user("viewer")
    product = await actors.product()
    show = await actors.show(other)
    r = await _link(client, viewer, target="product", id=product["id"])
    assert r.status_code == 403
    r = await _link(client, host, target="showcase", id=other["id"])
    assert r.status_code == 403 and r.json()["code"] == "not_your_showcase"
    r = await _link(client, host, target="show", id=show["id"])
    assert r.status_code == 403
    r = await _link(client, host, target="product")
    assert r.status_code == 422
    r = await _link(client, host, target="product", id=999_999_999)
    assert r.status_code == 404
    r = await _link(client, host, target="nothing", id=1)
    assert r.status_code == 422
    r = await client.post("/api/links", json={"target": "showcase"})
    assert r.status_code == 401
    withdrawn = await actors.product()
    brand = await actors.user("admin")
    assert (
        await client.delete(f"/api/products/{withdrawn['id']}", headers=brand["headers"])
    ).status_code == 204
    r = await _link(client, host, target="product", id=withdrawn["id"])
    assert r.status_code == 422 and r.json()["code"] == "product_inactive"
    made = await _link(client, host, target="showcase")
    assert made.status_code == 201 and made.json()["url"] == f"/l/{made.json()['code']}"
    mine = (await client.get("/api/me/links", headers=host["headers"])).json()
    assert [link["code"] for link in mine] == [made.json()["code"]]


async def test_clicks_counted_redirect_and_uniques(
    actors: Actors,
    client: httpx.AsyncClient,
    server: ServerThread,
    settings: Settings,
    redis: Redis,
) -> None:
    host = await actors.user("host")
    me = (await client.get("/api/me", headers=host["headers"])).json()
    product = await actors.product()
    show = await actors.show(host)
    links = {
        "product": (await _link(client, host, target="product", id=product["id"])).json(),
        "show": (await _link(client, host, target="show", id=show["id"])).json(),
        "showcase": (await _link(client, host, target="showcase")).json(),
    }
    where = {
        "product": f"/p/{product['id']}",
        "show": f"/watch/{show['id']}",
        "showcase": f"/@{me['handle']}",
    }
    visitors = 7
    ids: dict[str, list[str]] = {}  # per link, the visitor id (cookie) each visitor was given
    for kind, link in links.items():
        ids[kind] = []
        for _ in range(visitors):
            async with httpx.AsyncClient(base_url=server.url) as browser:
                for _ in range(3):  # each visitor clicks three times
                    r = await browser.get(link["url"])
                    assert r.status_code == 302, r.text
                    assert r.headers["location"] == where[kind]
                    assert "lc_attr=" in r.headers["set-cookie"]
                    assert "httponly" in r.headers["set-cookie"].lower()
                    assert "samesite=lax" in r.headers["set-cookie"].lower()
                    ids[kind].append(browser.cookies[VISITOR_COOKIE])
    stats = {
        link["code"]: link
        for link in (await client.get("/api/me/links", headers=host["headers"])).json()
    }
    for kind, link in links.items():
        assert stats[link["code"]]["clicks"] == visitors * 3
        # One id per visitor, kept over its three clicks, none shared.
        assert len(set(ids[kind])) == visitors
        assert all(len(set(ids[kind][i : i + 3])) == 1 for i in range(0, 3 * visitors, 3))
        expected = await hyperloglog_count(redis, ids[kind])
        assert expected >= visitors - 1
        assert stats[link["code"]]["unique_visitors"] == expected
    r = await client.get("/l/zzzzzzzz")
    assert r.status_code == 404
    r = await client.get("/l/bad%20code")
    assert r.status_code == 404


async def test_click_path_runs_no_sql(
    actors: Actors, client: httpx.AsyncClient, server: ServerThread
) -> None:
    host = await actors.user("host")
    product = await actors.product()
    link = (await _link(client, host, target="product", id=product["id"])).json()
    services = server.component(CreatorsComponent).services
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(20):
            r = await client.get(link["url"])
            assert r.status_code == 302
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements == []


async def test_attribution_credits_creator_to_the_cent(
    actors: Actors, client: httpx.AsyncClient, server: ServerThread, db: Database
) -> None:
    host = await actors.user("host")
    product = await actors.product(price=1999, commission_bps=1234)
    link = (await _link(client, host, target="product", id=product["id"])).json()
    r = await client.get(link["url"])
    cookie = r.cookies[attribution.COOKIE]
    shopper = await buyer(actors)
    order = await _buy(client, shopper, product, cookies={attribution.COOKIE: cookie}, quantity=3)
    assert order["creator_id"] == host["id"] and order["link_id"] == link["id"]
    assert order["items"][0]["commission_bps"] == 1234
    # 3 x 19.99 = 59.97; 12.34 % of it = 7.400298 -> 740 cents (floor, as the ledger does)
    assert await _ledger(db, order["id"]) == [(host["id"], 1234, 59_97 * 1234 // 10_000)]
    # the same token in the body (API clients)
    order = await _buy(client, shopper, product, token=cookie)
    assert order["creator_id"] == host["id"] and order["link_id"] == link["id"]
    async with db.sessions() as s:
        stored = await s.get(Order, order["id"])
        assert stored is not None and stored.link_id == link["id"]


async def test_last_click_wins(actors: Actors, client: httpx.AsyncClient) -> None:
    first, second = await actors.user("host"), await actors.user("host")
    product = await actors.product()
    a = (await _link(client, first, target="product", id=product["id"])).json()
    b = (await _link(client, second, target="product", id=product["id"])).json()
    old = (await client.get(a["url"])).cookies[attribution.COOKIE]
    async with httpx.AsyncClient(base_url=str(client.base_url)) as browser:
        await browser.get(a["url"])
        await browser.get(b["url"])  # the browser's last click: its cookie is b's
        token = browser.cookies[attribution.COOKIE]
    shopper = await buyer(actors)
    # an older click's token in the body, the latest as the cookie: the latest wins
    order = await _buy(client, shopper, product, cookies={attribution.COOKIE: token}, token=old)
    assert order["creator_id"] == second["id"] and order["link_id"] == b["id"]


async def test_forged_expired_and_self_referral_ignored(
    actors: Actors,
    client: httpx.AsyncClient,
    server: ServerThread,
    settings: Settings,
    db: Database,
) -> None:
    host = await actors.user("host")
    product = await actors.product()
    link = (await _link(client, host, target="product", id=product["id"])).json()
    shopper = await buyer(actors)
    now = server.clock()
    forged = TokenSigner("another-secret", ttl_s=60).seal(
        attribution.PURPOSE, {"c": host["id"], "l": link["id"], "t": now}, expires_at=int(now + 99)
    )
    real = (await client.get(link["url"])).cookies[attribution.COOKIE]
    payload, _, sig = real.partition(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + sig
    for bad in (forged, tampered, "garbage", "x.y", host["token"], "a." + "b" * 5000, ""):
        order = await _buy(client, shopper, product, token=bad)
        assert order["creator_id"] is None and order["link_id"] is None
        assert await _ledger(db, order["id"]) == []
    # expired: the window passes (the clock moves, nobody sleeps)
    server.clock.advance(days=settings.attribution_window_days, seconds=5)
    try:
        order = await _buy(client, shopper, product, token=real)
        assert order["creator_id"] is None
    finally:
        server.clock.advance(days=-settings.attribution_window_days, seconds=-5)
    # self-referral: the creator buys through their own link
    await client.put("/api/me/address", json=_ADDRESS, headers=host["headers"])
    await client.post(
        "/api/me/payment-methods", json={"token": "pm_card_visa"}, headers=host["headers"]
    )
    order = await _buy(client, host, product, token=real)
    assert order["creator_id"] is None and await _ledger(db, order["id"]) == []


_ADDRESS = {
    "name": "Host",
    "line1": "1 Street",
    "city": "Town",
    "postal_code": "1000",
    "country": "US",
}


async def test_withdrawn_product_answers_410(actors: Actors, client: httpx.AsyncClient) -> None:
    host = await actors.user("host")
    owner = await actors.brand()
    product = await actors.product(owner=owner)
    link = (await _link(client, host, target="product", id=product["id"])).json()
    assert (await client.get(link["url"])).status_code == 302
    r = await client.delete(f"/api/products/{product['id']}", headers=owner[1]["headers"])
    assert r.status_code == 204
    r = await client.get(link["url"], headers={"Accept-Language": "de"})
    assert r.status_code == 410 and r.headers["content-type"].startswith("text/html")
    assert "nicht mehr verkauft" in r.text and "Content-Security-Policy" in r.headers
    r = await client.get(link["url"], headers={"Accept": "application/json"})
    assert r.status_code == 410 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 410
    clicks = (await client.get("/api/me/links", headers=host["headers"])).json()[0]["clicks"]
    assert clicks == 1  # a 410 is not a click
    r = await client.patch(
        f"/api/products/{product['id']}", json={"is_active": True}, headers=owner[1]["headers"]
    )
    assert r.status_code == 200
    assert (await client.get(link["url"])).status_code == 302


async def test_bio_page(actors: Actors, client: httpx.AsyncClient, settings: Settings) -> None:
    host = await actors.user("host")
    handle = unique("bio").replace("-", "_")[:24]
    r = await client.patch(
        "/api/me", json={"handle": handle, "display_name": "Ada <Shop>"}, headers=host["headers"]
    )
    assert r.status_code == 200, r.text
    product = await actors.product(price=2500)
    live = await actors.show(host, product_ids=[product["id"]], live=True)
    r = await client.post(
        f"/api/sessions/{live['id']}/pins",
        json={"product_id": product["id"], "flash_price_minor": 1999},
        headers=host["headers"],
    )
    assert r.status_code in (200, 201), r.text
    upcoming = await actors.show(host)
    r = await client.get(f"/@{handle}", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert r.status_code == 200 and '<html lang="fr">' in r.text
    page = r.text
    base = str(client.base_url).rstrip("/")
    assert f'<meta property="og:url" content="{base}/@{handle}">' in page
    for tag in ("og:title", "og:description", "og:image", "og:url"):
        assert f'property="{tag}"' in page
    assert "Ada &lt;Shop&gt;" in page and "<Shop>" not in page
    assert "En direct" in page and live["title"] in page
    assert f'href="/p/{product["id"]}"' in page  # the pinned product, bought on its page
    assert '<data class="price" value="1999" data-currency="USD">' in page  # its flash price
    assert upcoming["title"] in page and "Émissions à venir" in page
    assert "Pas encore de rediffusion." in page
    assert "<script>" not in page and "script-src 'self'" in r.headers["content-security-policy"]
    r = await client.get("/@nobody_has_this_handle")
    assert r.status_code == 404 and "Creator not found" in r.text

    # Replays: the ended shows whose media the store holds, newest first, each opening
    # /replay/{id}; an ended show without media (or deleted) is not listed.
    replays = [await actors.show(host, live=True) for _ in range(3)]
    for show in replays:
        r = await client.post(f"/api/sessions/{show['id']}/end", headers=host["headers"])
        assert r.status_code == 200, r.text
    store = DirectoryStore(settings.media_root)
    older, bare, newer = replays
    for show in (older, newer):
        store.write(f"sessions/{show['id']}/index.json", _replay_index())
    assert (await client.get(f"/api/sessions/{newer['id']}/replay")).status_code == 200
    page = (await client.get(f"/@{handle}", headers={"Accept-Language": "fr"})).text
    section = page[page.index('id="bio-replays"') : page.index('id="bio-showcase"')]
    links = re.findall(r'href="/replay/(\d+)"', section)
    assert links == [str(newer["id"]), str(older["id"])], section
    assert newer["title"] in section and bare["title"] not in section
    assert "Diffusé le" in section and "Pas encore de rediffusion." not in page
    r = await client.delete(f"/api/sessions/{newer['id']}", headers=host["headers"])
    assert r.status_code == 204, r.text
    page = (await client.get(f"/@{handle}")).text
    assert re.findall(r'href="/replay/(\d+)"', page) == [str(older["id"])]


def _replay_index() -> bytes:
    """An ended show's index.json as the packager writes it (one 2 s segment)."""
    segment = {
        "msn": 0,
        "uri": "seg0.m4s",
        "duration_ms": 2000,
        "pdt_ms": 0,
        "start_ms": 0,
        "independent": True,
        "bytes": 3,
    }
    return encoding.dumps(
        {
            "session_id": 0,
            "stream_start_ms": 0,
            "duration_ms": 2000,
            "target_duration": 3,
            "codec": "h264",
            "init": "init.mp4",
            "segments": [segment],
        }
    )


def test_migration_backfills_hosts_handles(tmp_path: Any) -> None:
    """Hosts that existed before 0004 get a unique handle from their display name."""
    import sqlite3

    from livecommerce.db.migrate import migrate

    path = tmp_path / "m.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate(url, "0003")
    names = [("Ayşe Yılmaz", "host"), ("Ayşe Yılmaz", "host"), ("A", "host"), ("Admin", "host")]
    names.append(("Just Watching", "viewer"))
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO users (email, display_name, password_hash, role, is_active, created_at)"
            " VALUES (?, ?, 'x', ?, 1, '2026-01-01 00:00:00')",
            [(f"u{i}@t.dev", name, role) for i, (name, role) in enumerate(names)],
        )
    migrate(url)
    with sqlite3.connect(path) as conn:
        handles = [row[0] for row in conn.execute("SELECT handle FROM users ORDER BY id")]
    assert handles == ["ayse_yilmaz", "ayse_yilmaz_2", "creator_a", "creator_admin", None]


async def test_showcase_link_follows_a_new_handle_and_redis_loss(
    actors: Actors, client: httpx.AsyncClient, redis: Any
) -> None:
    from livecommerce import keys

    host = await actors.user("host")
    link = (await _link(client, host, target="showcase")).json()
    new = unique("n").replace("-", "_")[:20]
    r = await client.patch("/api/me", json={"handle": new}, headers=host["headers"])
    assert r.status_code == 200
    r = await client.get(link["url"])
    assert r.status_code == 302 and r.headers["location"] == f"/@{new}"
    # Redis lost the link (a flush, a failover): the next click loads it from SQL once
    await redis.delete(keys.link(link["code"]))
    r = await client.get(link["url"])
    assert r.status_code == 302 and r.headers["location"] == f"/@{new}"
    assert (await client.get("/api/me/links", headers=host["headers"])).json()[0]["clicks"] == 1
