"""Every id a client sends is bounded to what a SQL BIGINT can hold (1..2**63-1).

Beyond it SQLite and PostgreSQL overflow, which was a 500; now it is a 422 problem (HTTP)
or ``validation_failed`` (WebSocket), and the OpenAPI document says so with a maximum.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from livecommerce.api.common import MAX_ID
from tests.hub_client import HubClient
from tests.support import Actors, ServerThread

#: A parameter or a property that names a row: ``id``, ``*_id``, ``*_ids``.
ID_NAME = re.compile(r"^(id|\w+_ids?)$")
TOO_BIG = 10**19


def _unbounded_ids(doc: dict[str, Any]) -> list[str]:
    """Where in the request side of ``doc`` an integer id has no maximum."""
    schemas = doc["components"]["schemas"]
    found: list[str] = []

    def walk(schema: dict[str, Any], name: str | None, where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            model = schema["$ref"].rsplit("/", 1)[-1]
            if model not in seen:
                walk(schemas[model], name, f"{where}<{model}>", seen | {model})
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for option in schema.get(key, []):
                walk(option, name, where, seen)
        if (
            schema.get("type") == "integer"
            and name is not None
            and ID_NAME.match(name)
            and schema.get("maximum", MAX_ID + 1) > MAX_ID
        ):
            found.append(where)
        if schema.get("type") == "array" and "items" in schema:
            walk(schema["items"], name, f"{where}[]", seen)
        for prop, sub in schema.get("properties", {}).items():
            walk(sub, prop, f"{where}.{prop}", seen)

    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            at = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                walk(
                    param["schema"],
                    param["name"],
                    f"{at} {param['in']}:{param['name']}",
                    frozenset(),
                )
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                walk(body["schema"], None, f"{at} body", frozenset())
    return found


async def test_every_integer_id_a_request_carries_has_a_maximum(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert _unbounded_ids(doc) == []
    # The walk sees ids at all (a document whose shape it misreads would pass vacuously).
    buy = doc["components"]["schemas"]["BuyIn"]["properties"]["product_id"]
    assert buy["maximum"] == MAX_ID
    broken = {
        "paths": {"/x": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"properties": {"a_id": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}}
        }}}}}},
        "components": {"schemas": {}},
    }  # fmt: skip
    assert _unbounded_ids(broken) == ["POST /x body.a_id"]


def _is_422_problem(r: httpx.Response) -> None:
    assert r.status_code == 422, (r.request.url, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers


async def test_an_id_beyond_any_sql_row_is_a_422_problem_not_a_500(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    product = await actors.product()
    variant = product["variants"][0]["id"]
    buyer = await actors.user()
    h = buyer["headers"]
    ok = {"product_id": product["id"], "variant_id": variant, "quantity": 1}
    for field in ("product_id", "variant_id", "session_id", "payment_method_id"):
        r = await client.post(
            "/api/buy", json={**ok, field: TOO_BIG}, headers={**h, "Idempotency-Key": field}
        )
        _is_422_problem(r)
    for field in ("product_id", "variant_id", "session_id"):
        _is_422_problem(
            await client.post("/api/cart/items", json={**ok, field: TOO_BIG}, headers=h)
        )
    for field in ("session_id", "payment_method_id"):
        r = await client.post(
            "/api/checkout", json={field: TOO_BIG}, headers={**h, "Idempotency-Key": field}
        )
        _is_422_problem(r)
    _is_422_problem(
        await client.post("/api/links", json={"target": "show", "id": TOO_BIG}, headers=h)
    )
    # A path id out of range names no row: 404, as docs/api.md says.
    r = await client.get(f"/api/products/{TOO_BIG}")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    # The largest id is well-formed: it is simply not there.
    r = await client.post("/api/cart/items", json={**ok, "product_id": MAX_ID}, headers=h)
    assert r.status_code == 404, r.text


async def test_a_join_beyond_any_sql_id_is_validation_failed(server: ServerThread) -> None:
    viewer = await HubClient.open(server.url)
    try:
        reply = await viewer.request("join", session=TOO_BIG)
        assert reply["type"] == "error" and reply["code"] == "validation_failed", reply
        reply = await viewer.request("join", session=MAX_ID)
        assert reply["code"] == "not_found", reply
    finally:
        await viewer.close()
