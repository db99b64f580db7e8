"""The public HTTP edge against a real server: body limits (413), JSON only (415),
strict request models, problem+json for what uvicorn answers itself, LIKE wildcards in
search, CORS and security headers, the header deadline. The sign-in throttles are in
test_edge_throttle.py."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import orjson
import pytest

from livecommerce.settings import Settings, SettingsError
from tests.support import Actors, ServerThread, seconds

PASSWORD = "correct horse battery"

pytestmark = pytest.mark.usefixtures("no_server_errors")


def _raw(port: int, data: bytes, *, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=seconds(timeout))
    sock.sendall(data)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read until the server closes (or the whole Content-Length arrived)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def _problem(headers: dict[str, str], body: bytes, status: int) -> dict[str, Any]:
    assert headers["content-type"].startswith("application/problem+json"), headers
    doc: dict[str, Any] = orjson.loads(body)
    assert doc["status"] == status
    return doc


# --- request bodies -------------------------------------------------------------------


async def test_declared_oversized_body_is_refused_before_it_is_sent(server: ServerThread) -> None:
    # 100 MB announced, nothing sent: today the server waits to read it all.
    head = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n"
    )
    sock = await asyncio.to_thread(_raw, server.port, head)
    with sock:
        status, headers, body = await asyncio.to_thread(_read_response, sock)
    assert status == 413
    doc = _problem(headers, body, 413)
    assert doc["code"] == "too_large"
    assert headers.get("connection") == "close"


def _stream_until_answered(port: int, total: int) -> tuple[int, int, dict[str, str], bytes]:
    """Send a chunked body of up to ``total`` bytes, stopping once an answer arrives."""
    import select

    sock = _raw(
        port,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
    )
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    sent = 0
    with sock:
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed after answering
                break
            sent += 65536
        status, headers, body = _read_response(sock)
    return sent, status, headers, body


async def test_streamed_body_is_read_only_up_to_the_limit(
    server: ServerThread, settings: Settings
) -> None:
    total = 100 * 1024 * 1024
    sent, status, headers, body = await asyncio.to_thread(
        _stream_until_answered, server.port, total
    )
    assert status == 413
    assert _problem(headers, body, 413)["code"] == "too_large"
    # Answered long before the body ended: at most the limit plus what socket buffers held.
    assert sent < 16 * 1024 * 1024, sent


async def test_body_within_the_limit_is_read(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "x" * 150}
    )
    assert r.status_code == 401


# --- JSON is JSON ---------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
async def test_json_endpoint_refuses_other_media_types(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    body = orjson.dumps({"email": "a@example.com", "password": "whatever1"})
    headers = {"Content-Type": content_type} if content_type else {}
    r = await client.post("/api/auth/login", content=body, headers=headers)
    assert r.status_code == 415, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "unsupported_media_type"


async def test_json_with_charset_is_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/auth/login",
        content=orjson.dumps({"email": "a@example.com", "password": "whatever1"}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 401


@pytest.mark.parametrize("quantity", ["1", True, 1.0])
async def test_quantity_must_be_an_integer(
    client: httpx.AsyncClient, actors: Actors, quantity: Any
) -> None:
    viewer = await actors.user("viewer")
    r = await client.post(
        "/api/cart/items",
        json={"product_id": 1, "variant_id": 1, "quantity": quantity},
        headers=viewer["headers"],
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "quantity"]


async def test_minutes_must_be_a_number(client: httpx.AsyncClient, actors: Actors) -> None:
    show = await actors.show(live=True)
    viewer = await actors.user("viewer")
    r = await client.post(
        f"/api/sessions/{show['id']}/moderation",
        json={"action": "mute", "user_id": viewer["id"], "minutes": "5"},
        headers=show["host"]["headers"],
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "minutes"]


async def test_datetimes_are_iso_text_and_queries_stay_text(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    host = await actors.user("host")
    r = await client.post(
        "/api/sessions",
        json={"title": "Later", "scheduled_at": "2030-01-01T18:00:00Z"},
        headers=host["headers"],
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/sessions",
        json={"title": "Later", "scheduled_at": 1893520800},
        headers=host["headers"],
    )
    assert r.status_code == 422, r.text
    r = await client.get("/api/products", params={"limit": "5", "offset": "0"})
    assert r.status_code == 200, r.text


# --- what uvicorn answers before the app -----------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431),
        (b"NOT AN HTTP REQUEST\x00\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
    ],
)
async def test_malformed_requests_get_problem_json(
    server: ServerThread, request_bytes: bytes, status: int
) -> None:
    sock = await asyncio.to_thread(_raw, server.port, request_bytes)
    with sock:
        got, headers, body = await asyncio.to_thread(_read_response, sock)
    assert got == status
    _problem(headers, body, status)
    assert "server" not in headers


async def test_no_server_software_is_advertised(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/", "/api/nothing-here", "/static/style.css"):
        r = await client.get(path)
        assert "server" not in r.headers, (path, r.headers)
        assert "uvicorn" not in str(r.headers).lower()


# --- search ----------------------------------------------------------------------------


@pytest.mark.parametrize("wildcard", ["%", "_"])
async def test_search_matches_wildcards_literally(
    client: httpx.AsyncClient, actors: Actors, wildcard: str
) -> None:
    await actors.product()  # a product whose name has neither % nor _
    r = await client.get("/api/products", params={"q": wildcard, "limit": 100})
    assert r.status_code == 200
    names = [p["name"] for p in r.json()["items"]]
    assert all(wildcard in name for name in names), names


# --- CORS and security headers ---------------------------------------------------------


async def test_preflight_from_a_configured_origin_is_answered(edge: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        r = await client.options(
            "/api/auth/login",
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, authorization",
            },
        )
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == "https://shop.example"
        assert "POST" in r.headers["access-control-allow-methods"]
        r = await client.get("/api/products", headers={"Origin": "https://shop.example"})
        assert r.headers["access-control-allow-origin"] == "https://shop.example"
        exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
        assert {"location", "etag", "link", "retry-after", "x-request-id"} <= exposed
        r = await client.options(
            "/api/auth/login",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("page", ["/", "/login", "/watch/1", "/host/1", "/moderate/1"])
async def test_pages_cannot_be_framed_by_default(client: httpx.AsyncClient, page: str) -> None:
    r = await client.get(page)
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


async def test_pages_may_be_framed_by_configured_origins(edge: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        r = await client.get("/watch/1")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors https://brand.example" in csp
    assert "x-frame-options" not in r.headers


async def test_api_answers_are_not_sniffed(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/products")
    assert r.headers["x-content-type-options"] == "nosniff"


# --- slow clients -----------------------------------------------------------------------


def _closed_within(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closed ``sock`` (after any answer), None if it did not."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


async def test_partial_request_heads_are_timed_out(edge: ServerThread) -> None:
    partial = (
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
    )
    socks = [await asyncio.to_thread(_raw, edge.port, partial) for _ in range(100)]
    silent = [await asyncio.to_thread(_raw, edge.port, b"") for _ in range(5)]
    try:
        # Meanwhile, a complete request is served.
        async with httpx.AsyncClient(base_url=edge.url) as client:
            assert (await client.get("/healthz")).status_code == 200
        # The deadline is 1 s; every half-open connection is closed well within 10 s.
        waits = await asyncio.gather(
            *(asyncio.to_thread(_closed_within, s, seconds(10)) for s in socks + silent)
        )
        assert all(w is not None for w in waits), waits
    finally:
        for s in socks + silent:
            s.close()


async def test_the_deadline_answers_408_problem_json(edge: ServerThread) -> None:
    sock = await asyncio.to_thread(_raw, edge.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    with sock:
        status, headers, body = await asyncio.to_thread(_read_response, sock)
    assert status == 408
    assert _problem(headers, body, 408)["code"] == "request_timeout"


# --- settings ---------------------------------------------------------------------------


def test_token_ttl_minimum_is_stated() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"TOKEN_TTL_S": "5", "SECRET_KEY": "x" * 20})
    assert str(info.value) == "TOKEN_TTL_S must be at least 60, got 5"
    assert "None" not in str(info.value)
