"""The marketplace (products open to a creator: filters, sorts, keyset pages) and
showcases (a creator's own, edited by them only; the public read)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import Actors, unique


async def _catalog(
    actors: Actors, client: httpx.AsyncClient
) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    """A brand with six products open at different rates, prices, categories and names,
    and one product it did not open."""
    owner = await actors.brand()
    brand_id, brand = owner
    specs = [
        ("Red Running Shoe", "shoes", 5000, 1000),
        ("Blue running shoe", "shoes", 7000, 2000),
        ("Trail Runner Pro", "shoes", 9000, 1500),
        ("Red Wool Hat", "hats", 1500, 3000),
        ("Summer Hat", "hats", 2500, 500),
        ("Çanta Kırmızı", "bags", 3000, 2500),
    ]
    products = []
    for name, category, price, rate in specs:
        r = await client.post(
            f"/api/brands/{brand_id}/products",
            json={
                "name": name,
                "category": category,
                "price_minor": price,
                "currency": "EUR",
                "commission_bps": 100,
                "images": [f"https://img.example/{category}.jpg"],
                "variants": [{"sku": unique("SKU"), "name": "One", "stock_total": 5}],
            },
            headers=brand["headers"],
        )
        assert r.status_code == 201, r.text
        product = r.json()
        assert product["category"] == category
        r = await client.put(f"/api/products/{product['id']}/collaboration",
                             json={"rate_bps": rate}, headers=brand["headers"])  # fmt: skip
        assert r.status_code == 200, r.text
        products.append(product)
    await actors.product(owner=owner)  # not opened: never listed
    return brand_id, brand, products


async def _ids(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[int]:
    r = await client.get("/api/marketplace", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [i["product_id"] for i in r.json()["items"]]


async def test_marketplace_filters_sorts_and_pages(
    actors: Actors, client: httpx.AsyncClient
) -> None:
    brand_id, brand, products = await _catalog(actors, client)
    p = [x["id"] for x in products]
    creator = await actors.user("host")
    h = creator["headers"]
    b = {"brand_id": brand_id}

    r = await client.get("/api/marketplace", params=b, headers=h)
    body = r.json()
    assert [i["product_id"] for i in body["items"]] == p[::-1]  # newest first
    first = body["items"][-1]
    assert first == {
        "product_id": p[0],
        "brand_id": brand_id,
        "brand_name": "Brand",
        "name": "Red Running Shoe",
        "category": "shoes",
        "price_minor": 5000,
        "currency": "EUR",
        "image": "https://img.example/shoes.jpg",
        "rate_bps": 1000,
        "targeted": False,
        "in_showcase": False,
    }
    assert body["next_cursor"] is None

    # text: every word starts a word of the name, any case, any script
    assert await _ids(client, h, q="red", **b) == [p[3], p[0]]
    assert await _ids(client, h, q="RUN", **b) == [p[2], p[1], p[0]]
    assert await _ids(client, h, q="red run", **b) == [p[0]]
    assert await _ids(client, h, q="kırm", **b) == [p[5]]
    assert await _ids(client, h, q="unning", **b) == []
    assert await _ids(client, h, q="%", **b) == p[::-1]  # no word: no text filter
    # category, price, rate, brand
    assert await _ids(client, h, category="hats", **b) == [p[4], p[3]]
    assert await _ids(client, h, min_price=2500, max_price=5000, **b) == [p[5], p[4], p[0]]
    assert await _ids(client, h, min_rate=2000, **b) == [p[5], p[3], p[1]]
    assert await _ids(client, h, category="shoes", q="run", min_rate=1500, **b) == [p[2], p[1]]
    other_brand, _ = await actors.brand()
    assert await _ids(client, h, brand_id=other_brand) == []
    # sorts
    assert await _ids(client, h, sort="price_asc", **b) == [p[3], p[4], p[5], p[0], p[1], p[2]]
    assert await _ids(client, h, sort="price_desc", **b) == [p[2], p[1], p[0], p[5], p[4], p[3]]
    assert await _ids(client, h, sort="rate_desc", **b) == [p[3], p[5], p[1], p[2], p[0], p[4]]

    # keyset pages: every item once, in order, for each sort
    for sort in ("newest", "price_asc", "price_desc", "rate_desc"):
        whole = await _ids(client, h, sort=sort, **b)
        seen: list[int] = []
        cursor = None
        for _ in range(10):
            params: dict[str, Any] = {"sort": sort, "limit": 4, **b}
            if cursor:
                params["cursor"] = cursor
            r = await client.get("/api/marketplace", params=params, headers=h)
            assert r.status_code == 200, r.text
            seen += [i["product_id"] for i in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == whole, sort

    # bad input: 422 naming the parameter, never a 500
    r = await client.get("/api/marketplace", params={"limit": 2, **b}, headers=h)
    cursor = r.json()["next_cursor"]
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": cursor, "sort": "price_asc"},  # another sort's cursor
        {"cursor": "W10"},  # base64 of []
    ):
        r = await client.get("/api/marketplace", params=params, headers=h)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"] == ["query", "cursor"], r.text
    for params in ({"sort": "cheapest"}, {"limit": 0}, {"min_rate": -1}, {"category": "Shoes!"}):
        r = await client.get("/api/marketplace", params=params, headers=h)
        assert r.status_code == 422, r.text
    viewer = await actors.user("viewer")
    assert (await client.get("/api/marketplace", headers=viewer["headers"])).status_code == 403
    assert (await client.get("/api/marketplace")).status_code == 401

    # a renamed product is found by its new words only
    r = await client.patch(f"/api/products/{p[4]}", json={"name": "Beach Bucket Hat"},
                           headers=brand["headers"])  # fmt: skip
    assert r.status_code == 200, r.text
    assert await _ids(client, h, q="beach", **b) == [p[4]]
    assert await _ids(client, h, q="summer", **b) == []

    # a product withdrawn from sale leaves the marketplace
    r = await client.delete(f"/api/products/{p[0]}", headers=brand["headers"])
    assert r.status_code == 204
    assert p[0] not in await _ids(client, h, **b)


async def test_showcase_is_edited_by_its_creator_only(
    actors: Actors, client: httpx.AsyncClient
) -> None:
    brand_id, brand, products = await _catalog(actors, client)
    p = [x["id"] for x in products]
    closed = await actors.product(owner=(brand_id, brand))
    creator, rival = await actors.user("host"), await actors.user("host")
    h = creator["headers"]
    url = "/api/me/showcase"

    for pid in (p[2], p[0], p[4]):
        r = await client.post(url, json={"product_id": pid}, headers=h)
        assert r.status_code == 201, r.text
    assert [i["product_id"] for i in r.json()["items"]] == [p[2], p[0], p[4]]
    assert [i["rate_bps"] for i in r.json()["items"]] == [1500, 1000, 500]

    # not open to the creator, unknown, twice, or from a viewer
    r = await client.post(url, json={"product_id": closed["id"]}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "not_open", r.text
    r = await client.post(url, json={"product_id": 987654321}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "product_id"]
    r = await client.post(url, json={"product_id": p[0]}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "already_in_showcase", r.text
    viewer = await actors.user("viewer")
    r = await client.post(url, json={"product_id": p[1]}, headers=viewer["headers"])
    assert r.status_code == 403
    assert (await client.post(url, json={"product_id": p[1]})).status_code == 401

    # the marketplace marks what is in it
    r = await client.get("/api/marketplace", params={"brand_id": brand_id}, headers=h)
    marked = {i["product_id"] for i in r.json()["items"] if i["in_showcase"]}
    assert marked == {p[2], p[0], p[4]}

    # reorder: exactly the products it holds
    r = await client.put(url, json={"product_ids": [p[4], p[2], p[0]]}, headers=h)
    assert r.status_code == 200, r.text
    assert [i["product_id"] for i in r.json()["items"]] == [p[4], p[2], p[0]]
    for bad in ([p[4], p[2]], [p[4], p[2], p[0], p[1]], [p[4], p[4], p[2]]):
        r = await client.put(url, json={"product_ids": bad}, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "product_ids"]

    # another creator cannot touch it: their own showcase is all they address
    r = await client.delete(f"{url}/{p[2]}", headers=rival["headers"])
    assert r.status_code == 404, r.text
    r = await client.put(url, json={"product_ids": [p[0], p[2], p[4]]}, headers=rival["headers"])
    assert r.status_code == 422, r.text
    assert (await client.get(url, headers=rival["headers"])).json()["items"] == []

    # the public read: the creator's order, no rates; products no longer sold are left out
    r = await client.get(f"/api/creators/{creator['id']}/showcase")
    assert r.status_code == 200, r.text
    assert [(i["product_id"], i["rate_bps"]) for i in r.json()["items"]] == [
        (p[4], None), (p[2], None), (p[0], None)
    ]  # fmt: skip
    assert (
        await client.delete(f"/api/products/{p[2]}", headers=brand["headers"])
    ).status_code == 204
    r = await client.get(f"/api/creators/{creator['id']}/showcase")
    assert [i["product_id"] for i in r.json()["items"]] == [p[4], p[0]]
    for nobody in (viewer["id"], 987654321):
        assert (await client.get(f"/api/creators/{nobody}/showcase")).status_code == 404

    r = await client.delete(f"{url}/{p[4]}", headers=h)
    assert r.status_code == 204
    assert (await client.delete(f"{url}/{p[4]}", headers=h)).status_code == 404
    r = await client.get(url, headers=h)
    assert [i["product_id"] for i in r.json()["items"]] == [p[2], p[0]]
