"""The authorization matrix (DESIGN I6): who may do what, over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import Actors, unique


def _product_body() -> dict[str, Any]:
    return {
        "name": "P",
        "price_minor": 100,
        "currency": "USD",
        "variants": [{"sku": unique("SKU"), "name": "V", "stock_total": 1}],
    }


@pytest.mark.parametrize("role", ["viewer", "host", "moderator"])
async def test_non_brand_users_cannot_create_products(
    client: httpx.AsyncClient, actors: Actors, role: str
) -> None:
    brand_id, _ = await actors.brand()
    user = await actors.user(role)
    r = await client.post(
        f"/api/brands/{brand_id}/products", json=_product_body(), headers=user["headers"]
    )
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "forbidden"


async def test_brand_cannot_touch_another_brands_catalog(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    (brand_a, _), (_, user_b) = await actors.brand(), await actors.brand()
    product_a = await actors.product(
        owner=(brand_a, (await actors.user("brand", brand_id=brand_a)))
    )
    headers = user_b["headers"]
    r = await client.post(f"/api/brands/{brand_a}/products", json=_product_body(), headers=headers)
    assert r.status_code == 403
    r = await client.patch(f"/api/products/{product_a['id']}", json={"name": "x"}, headers=headers)
    assert r.status_code == 403
    r = await client.delete(f"/api/products/{product_a['id']}", headers=headers)
    assert r.status_code == 403
    variant = product_a["variants"][0]["id"]
    r = await client.patch(f"/api/variants/{variant}", json={"stock_total": 0}, headers=headers)
    assert r.status_code == 403
    after = (await client.get(f"/api/products/{product_a['id']}")).json()
    assert after["name"] == product_a["name"] and after["is_active"]
    assert after["variants"][0]["stock_total"] == product_a["variants"][0]["stock_total"]


@pytest.mark.parametrize("role", ["viewer", "brand", "moderator"])
async def test_only_hosts_create_sessions(
    client: httpx.AsyncClient, actors: Actors, role: str
) -> None:
    user = await actors.user(role)
    r = await client.post("/api/sessions", json={"title": "mine"}, headers=user["headers"])
    assert r.status_code == 403


async def test_host_cannot_edit_another_hosts_session(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    show = await actors.show()
    other = await actors.user("host")
    sid = show["id"]
    headers = other["headers"]
    for method, path, body in [
        ("PATCH", f"/api/sessions/{sid}", {"title": "hijacked"}),
        ("POST", f"/api/sessions/{sid}/start", None),
        ("POST", f"/api/sessions/{sid}/end", None),
        ("PUT", f"/api/sessions/{sid}/lineup", {"product_ids": []}),
        ("POST", f"/api/sessions/{sid}/moderators", {"user_id": other["id"]}),
    ]:
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 403, (method, path, r.text)
    after = (await client.get(f"/api/sessions/{sid}")).json()
    assert after["title"] == show["title"] and after["status"] == "scheduled"


async def test_session_moderator_rights_are_per_session(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    show, other_show = await actors.show(live=True), await actors.show(live=True)
    moderator = await actors.user("moderator")
    r = await client.post(
        f"/api/sessions/{show['id']}/moderators",
        json={"user_id": moderator["id"]},
        headers=show["host"]["headers"],
    )
    assert r.status_code == 201
    assert [m["user_id"] for m in r.json()] == [moderator["id"]]
    headers = moderator["headers"]
    # A moderator may end the show they moderate, but not edit it or end another.
    r = await client.patch(f"/api/sessions/{show['id']}", json={"title": "x"}, headers=headers)
    assert r.status_code == 403
    r = await client.post(f"/api/sessions/{other_show['id']}/end", headers=headers)
    assert r.status_code == 403
    r = await client.post(f"/api/sessions/{show['id']}/end", headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "ended"


async def test_admin_may_manage_any_session_and_brand(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    show = await actors.show()
    admin = await actors.user("admin")
    r = await client.patch(
        f"/api/sessions/{show['id']}", json={"title": "by admin"}, headers=admin["headers"]
    )
    assert r.status_code == 200 and r.json()["title"] == "by admin"
    brand_id, _ = await actors.brand()
    r = await client.post(
        f"/api/brands/{brand_id}/products", json=_product_body(), headers=admin["headers"]
    )
    assert r.status_code == 201


async def test_anonymous_reads_public_data_only(client: httpx.AsyncClient, actors: Actors) -> None:
    product = await actors.product()
    show = await actors.show(product_ids=[product["id"]])
    for path in [
        "/api/products",
        f"/api/products/{product['id']}",
        "/api/brands",
        "/api/sessions",
        f"/api/sessions/{show['id']}",
        f"/api/sessions/{show['id']}/moderators",
    ]:
        assert (await client.get(path)).status_code == 200, path
    for method, path, body in [
        ("GET", "/api/me", None),
        ("POST", "/api/sessions", {"title": "x"}),
        ("POST", "/api/brands", {"name": "x", "slug": "x"}),
        ("PATCH", f"/api/products/{product['id']}", {"name": "x"}),
        ("POST", f"/api/sessions/{show['id']}/start", None),
    ]:
        r = await client.request(method, path, json=body)
        assert r.status_code == 401, (method, path)
        assert r.headers["content-type"] == "application/problem+json"


async def test_signup_cannot_choose_privileged_roles(client: httpx.AsyncClient) -> None:
    for role in ("admin", "brand", "moderator"):
        r = await client.post(
            "/api/auth/signup",
            json={
                "email": f"{unique()}@x.dev",
                "password": "long enough",
                "display_name": "x",
                "role": role,
            },
        )
        assert r.status_code == 422, role
