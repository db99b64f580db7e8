"""The foundation: health, auth, catalog, live sessions, errors, OpenAPI."""

from __future__ import annotations

import httpx

from tests.support import Actors


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert r.headers["x-request-id"]


async def test_signup_login_me(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/auth/signup",
        json={"email": "Someone@Example.com", "password": "long enough", "display_name": "S"},
    )
    assert r.status_code in (201, 409), r.text
    r = await client.post(
        "/api/auth/login", json={"email": "someone@example.com", "password": "long enough"}
    )
    assert r.status_code == 200
    token = r.json()["token"]
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["email"] == "someone@example.com"
    assert me.json()["role"] == "viewer"
    bad = await client.post(
        "/api/auth/login", json={"email": "someone@example.com", "password": "wrong one"}
    )
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["code"] == "bad_credentials"


async def test_tampered_token_is_401(client: httpx.AsyncClient, actors: Actors) -> None:
    user = await actors.user()
    token = user["token"][:-2] + ("AA" if not user["token"].endswith("AA") else "BB")
    r = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json()["detail"] == "invalid token"


async def test_problem_documents(client: httpx.AsyncClient, actors: Actors) -> None:
    r = await client.get("/api/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_found"
    r = await client.delete("/healthz")
    assert r.status_code == 405
    brand_id, brand_user = await actors.brand()
    r = await client.post(
        f"/api/brands/{brand_id}/products",
        content=b"{not json",
        headers={**brand_user["headers"], "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = await client.post(
        f"/api/brands/{brand_id}/products",
        json={"name": "X", "price_minor": -5, "currency": "usd", "variants": []},
        headers=brand_user["headers"],
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_failed"
    assert {tuple(e["loc"]) for e in body["errors"]} >= {("body", "price_minor")}


async def test_nul_characters_are_refused(client: httpx.AsyncClient, actors: Actors) -> None:
    host = await actors.user("host")
    r = await client.post("/api/sessions", json={"title": "a\u0000b"}, headers=host["headers"])
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
    r = await client.get("/api/products", params={"q": "x\x00"})
    assert r.status_code == 422


async def test_catalog_crud(client: httpx.AsyncClient, actors: Actors) -> None:
    owner = await actors.brand()
    product = await actors.product(stock=7, variants=2, owner=owner)
    assert [v["stock_total"] for v in product["variants"]] == [7, 7]
    headers = owner[1]["headers"]
    r = await client.patch(
        f"/api/products/{product['id']}",
        json={"price_minor": 1500, "commission_bps": 2500},
        headers=headers,
    )
    assert r.status_code == 200
    assert r.json()["price_minor"] == 1500 and r.json()["commission_bps"] == 2500
    variant_id = product["variants"][0]["id"]
    r = await client.patch(f"/api/variants/{variant_id}", json={"stock_total": 3}, headers=headers)
    assert r.status_code == 200 and r.json()["stock_total"] == 3
    r = await client.post(
        f"/api/products/{product['id']}/variants",
        json={"sku": product["variants"][0]["sku"], "name": "dup"},
        headers=headers,
    )
    assert r.status_code == 409 and r.json()["code"] == "sku_taken"
    listed = await client.get("/api/products", params={"brand_id": owner[0]})
    assert [p["id"] for p in listed.json()["items"]] == [product["id"]]
    r = await client.delete(f"/api/products/{product['id']}", headers=headers)
    assert r.status_code == 204
    assert (await client.get(f"/api/products/{product['id']}")).json()["is_active"] is False


async def test_session_lifecycle_and_lineup(client: httpx.AsyncClient, actors: Actors) -> None:
    p1, p2 = await actors.product(), await actors.product()  # two different brands
    show = await actors.show(product_ids=[p2["id"], p1["id"]])
    headers = show["host"]["headers"]
    assert show["status"] == "scheduled"
    assert [p["id"] for p in show["lineup"]] == [p2["id"], p1["id"]]
    listed = await client.get("/api/sessions", params={"host_id": show["host"]["id"]})
    assert [s["id"] for s in listed.json()["items"]] == [show["id"]]
    r = await client.post(f"/api/sessions/{show['id']}/start", headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "live" and r.json()["started_at"]
    r = await client.post(f"/api/sessions/{show['id']}/start", headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "bad_transition"
    r = await client.put(
        f"/api/sessions/{show['id']}/lineup",
        json={"product_ids": [p1["id"], 999999]},
        headers=headers,
    )
    assert r.status_code == 422
    r = await client.post(f"/api/sessions/{show['id']}/end", headers=headers)
    assert r.json()["status"] == "ended"
    live = await client.get(
        "/api/sessions", params={"status": "ended", "host_id": show["host"]["id"]}
    )
    assert [s["id"] for s in live.json()["items"]] == [show["id"]]


async def test_pagination(client: httpx.AsyncClient, actors: Actors) -> None:
    owner = await actors.brand()
    ids = [(await actors.product(owner=owner))["id"] for _ in range(3)]
    page1 = (await client.get("/api/products", params={"brand_id": owner[0], "limit": 2})).json()
    assert [p["id"] for p in page1["items"]] == ids[:2] and page1["next_offset"] == 2
    page2 = (
        await client.get("/api/products", params={"brand_id": owner[0], "limit": 2, "offset": 2})
    ).json()
    assert [p["id"] for p in page2["items"]] == ids[2:] and page2["next_offset"] is None
    r = await client.get("/api/products", params={"limit": 1000})
    assert r.status_code == 422


async def test_pages_are_served(client: httpx.AsyncClient) -> None:
    for path in ["/", "/login", "/watch/1", "/host/1", "/moderate/1"]:
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
    r = await client.get("/static/app.js")
    assert r.status_code == 200 and "export const api" in r.text
    assert (await client.get("/watch/abc")).status_code == 404


async def test_openapi_covers_every_route(client: httpx.AsyncClient, server: object) -> None:
    from starlette.routing import Route

    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    app = server.app  # type: ignore[attr-defined]
    import re

    for route in app.routes:
        if (
            isinstance(route, Route)
            and route.methods
            and not route.name.startswith(("page:", "static:"))
        ):
            path = re.sub(r"{(\w+):\w+}", r"{\1}", route.path)
            for method in route.methods - {"HEAD"}:
                assert (method, path) in documented, (method, path)
