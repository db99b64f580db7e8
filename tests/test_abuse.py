"""A real ``livecommerce serve`` process put through what an open-internet show gets:
oversized, mistyped and malformed requests, slow clients, bad WebSocket frames, media
torn down mid-negotiation. Every answer is a clear 4xx problem or an error frame, the
server keeps serving, and its log has no ERROR line and no traceback (issue 10)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection
from websockets.asyncio.client import connect

from livecommerce.db.engine import Database
from livecommerce.settings import Settings
from streaming.client import post_offer
from tests.hub_client import HubClient
from tests.processes import ServeProcess
from tests.rawws import RawWebSocket
from tests.support import Actors, random_address, seconds, unique


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data_dir = tmp_path_factory.mktemp("abuse")
    proc = ServeProcess(
        settings,
        data_dir,
        HTTP_HEADER_TIMEOUT_S="1",
        HUB_PING_INTERVAL_S="0",
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def client(server: ServeProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"X-Forwarded-For": random_address()}
    async with httpx.AsyncClient(base_url=server.url, timeout=seconds(20), headers=headers) as c:
        yield c


def _is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] and body["detail"], body
    return body


def _raw_http(port: int, data: bytes, *, timeout: float = 10) -> bytes:
    """Send raw bytes, read the whole answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds(timeout)) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in chunks[0]:
                # a keep-alive answer: what we have is enough
                head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                length = [
                    int(h.split(b":")[1])
                    for h in head.split(b"\r\n")
                    if h.lower().startswith(b"content-length:")
                ]
                if length and len(body) >= length[0]:
                    break
        return b"".join(chunks)


async def test_the_edge_answers_every_abuse_with_a_clear_4xx_and_logs_no_error(
    server: ServeProcess, client: httpx.AsyncClient, db: Database
) -> None:
    actors = Actors(client, db)
    viewer = await actors.user("viewer")
    show = await actors.show(live=True)

    # -- HTTP -----------------------------------------------------------------
    # 100 MB announced: refused on the Content-Length, before the body is read.
    answer = _raw_http(
        server.port,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n" + b"x" * 65536,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

    # A streamed (chunked) body is read only up to the limit: the answer comes while the
    # client is still sending (raw socket: a client library would stop at the reset).
    answer = await asyncio.get_running_loop().run_in_executor(None, _chunked_flood, server.port)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer.split(b"\r\n\r\n")[0], answer[:300]
    _is_problem(
        await client.post(
            "/api/auth/login",
            content=b'{"email": "a@b.c", "password": "x"}',
            headers={"content-type": "text/plain"},
        ),
        415,
    )
    _is_problem(
        await client.post("/api/auth/login", content=b'{"email": "a@b.c", "password": "x"}'),
        415,
    )
    _is_problem(await client.post("/api/auth/login", json={"email": ["a"], "password": 1}), 422)
    _is_problem(
        await client.post(
            "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
        ),
        400,
    )
    _is_problem(await client.get("/api/sessions/99999999999999999999999"), 404)
    _is_problem(await client.get("/api/products", params={"limit": "many"}), 422)
    for q in ("%", "_"):
        r = await client.get("/api/products", params={"q": q})
        assert r.status_code == 200 and r.json()["items"] == [], r.text[:300]

    preflight = await client.options(
        "/api/auth/login",
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "POST",
        },
    )
    assert preflight.status_code < 500
    assert "server" not in {k.lower() for k in preflight.headers}

    # The server layer's own answers are problems too: an over-long URL, garbage.
    for raw in (
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
    ):
        answer = _raw_http(server.port, raw)
        head = answer.split(b"\r\n\r\n", 1)[0]
        assert head.startswith(b"HTTP/1.1 4"), answer[:200]
        assert b"application/problem+json" in head, answer[:300]
        assert b"server:" not in head.lower()

    # Slow clients: half-sent heads are closed by the header deadline (1 s here).
    slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    for sock in slow:
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
    loop = asyncio.get_running_loop()

    def closed(sock: socket.socket) -> bool:
        sock.settimeout(seconds(10))
        try:
            while sock.recv(65536):
                pass
        except (ConnectionResetError, TimeoutError):
            pass
        return True

    assert all(await asyncio.gather(*(loop.run_in_executor(None, closed, s) for s in slow)))
    for sock in slow:
        sock.close()

    # Password guessing is throttled (429 with Retry-After), for known and unknown e-mails.
    for email in (viewer["email"], f"{unique('nobody')}@test.livecommerce.dev"):
        statuses = []
        for _ in range(30):
            r = await client.post("/api/auth/login", json={"email": email, "password": "wrong"})
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["retry-after"]) >= 1
                _is_problem(r, 429)
                break
        assert statuses[-1] == 429, statuses

    # -- WebSocket --------------------------------------------------------------
    # An empty ?token= is anonymous viewing (docs/protocol.md).
    hub = HubClient(
        await connect(server.url.replace("http", "ws") + "/ws?token=", ping_interval=None)
    )
    await hub.wait(lambda f: f.get("type") == "hello")
    for frame in (
        {"type": ["join"], "id": 1},
        {"type": "react", "kind": ["heart"], "id": 2},
        {"type": "join", "session": "1; drop", "id": 3},
        {"type": "chat", "text": {"a": 1}, "id": 4},
        {"type": {"x": 1}, "id": 5},
        {"type": "join", "session": [show["id"]], "since": "x", "id": 6},
    ):
        await hub.ws.send(json.dumps(frame))
        reply = await hub.wait(lambda f, i=frame["id"]: f.get("id") == i)
        assert reply["type"] == "error", reply
        assert reply["code"] != "internal", reply
        assert reply.get("id") == frame["id"], reply
    await hub.close()

    raw = RawWebSocket("127.0.0.1", server.port)
    raw.sock.sendall(_masked_frame(0x1, b"\xff\xfe invalid utf-8"))
    frames = raw.read_until_closed(seconds(10))
    assert frames and frames[-1][0] == 0x8, frames
    raw.close()

    raw = RawWebSocket("127.0.0.1", server.port)
    raw.sock.sendall(_masked_frame(0x2, json.dumps({"type": "ping", "id": 9}).encode()))
    opcode, payload = raw.read_frame(seconds(10))
    while b'"hello"' in payload:
        opcode, payload = raw.read_frame(seconds(10))
    assert opcode in (0x1, 0x8), (opcode, payload)
    raw.close()

    # Over the hub's frame limit: a too_large error frame or, far over it, close 1009.
    raw = RawWebSocket("127.0.0.1", server.port)
    raw.send_text(json.dumps({"type": "chat", "text": "x" * (64 * 1024)}))
    opcode, payload = raw.read_frame(seconds(10))
    while b'"hello"' in payload:
        opcode, payload = raw.read_frame(seconds(10))
    assert (opcode == 0x1 and b"too_large" in payload) or opcode == 0x8, (opcode, payload)
    raw.close()

    # -- media --------------------------------------------------------------------
    r = await client.post(
        f"/whep/{show['id']}", content=b"v=0 garbage", headers={"content-type": "application/sdp"}
    )
    _is_problem(r, 400)
    r = await client.post(
        f"/whep/{show['id']}", content=b"v=0", headers={"content-type": "text/plain"}
    )
    _is_problem(r, 415)
    for _ in range(5):
        pc = RTCPeerConnection()
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        r = await post_offer(client, f"{server.url}/whep/{show['id']}", pc)
        assert r.status_code == 201, r.text
        await client.delete(server.url + r.headers["location"])
        await pc.close()

    # The server still serves, and its log is clean.
    assert (await client.get("/readyz")).status_code == 200
    server.stop()
    assert server.bad_lines() == []


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    assert n < 126
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | n]) + mask + masked


def _chunked_flood(port: int) -> bytes:
    """POST a chunked body of up to 64 MiB; return what the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds(10)) as sock:
        sock.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
        try:
            for _ in range(1024):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
        return answer
