"""The hub's public edge, abused as an outside client would, on a real ``livecommerce serve``
process (its own uvicorn configuration and logging): slow consumers, wrong types, rate
limits, frame sizes, binary and invalid UTF-8 frames, metrics. Each abuse must leave no
warning, error or traceback in the server's log."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from livecommerce import redisclient
from livecommerce.hub.protocol import CLIENT_TYPES, CLOSE_SLOW
from livecommerce.sessionfeed import publish
from livecommerce.settings import Settings
from tests.hub_client import HubClient
from tests.processes import WARNING_LEVELS, ServeProcess
from tests.rawws import RawWebSocket
from tests.support import Actors, seconds


def _metrics(serve: ServeProcess) -> dict[str, float]:
    """The server's ``livecommerce_hub_*`` samples."""
    text = httpx.get(serve.url + "/metrics", timeout=5).text
    out = {}
    for line in text.splitlines():
        if line.startswith("livecommerce_hub_"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def _server_sockets_to(serve: ServeProcess, client_port: int) -> list[int]:
    """The send-queue sizes (bytes) of the server's open TCP sockets to ``client_port``
    on this machine, from the kernel's table (Linux ``/proc/net/tcp``)."""
    queues = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            rows = f.read().splitlines()[1:]
        for row in rows:
            cols = row.split()
            local, remote, state = cols[1], cols[2], cols[3]
            if (
                int(local.rsplit(":", 1)[1], 16) == serve.port
                and int(remote.rsplit(":", 1)[1], 16) == client_port
                and state not in ("06", "07")  # TIME_WAIT, CLOSE
            ):
                queues.append(int(cols[4].split(":")[0], 16))
    return queues


@pytest.fixture(scope="module")
def serve(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(
        settings,
        tmp_path_factory.mktemp("edge"),
        # A stuck viewer overflows after little data; no heartbeat, so only the slow
        # consumer rule can cut it; a short grace before the abort.
        HUB_SEND_QUEUE="16",
        HUB_SEND_BUFFER_BYTES="262144",
        HUB_PING_INTERVAL_S="0",
        HUB_CLOSE_GRACE_S="1",
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def clean_log(serve: ServeProcess) -> Iterator[None]:
    """The test's abuses log nothing at warning level or above, and no traceback."""
    offset = serve.log_offset()
    yield
    assert serve.bad_lines(offset, levels=WARNING_LEVELS) == []


def _ws_url(serve: ServeProcess, query: str = "") -> str:
    return f"ws://127.0.0.1:{serve.port}/ws{query}"


async def _show(actors: Actors) -> tuple[dict[str, Any], int]:
    owner = await actors.brand()
    product = (await actors.product(owner=owner))["id"]
    return await actors.show(product_ids=[product], live=True), product


class Viewer:
    """A well-behaved viewer that notes when each ``probe`` event arrives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.latencies: dict[int, float] = {}
        self.got = asyncio.Event()
        self.want = 10**9
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            frame = json.loads(message)
            for event in frame["events"] if frame.get("type") == "batch" else [frame]:
                if event.get("type") == "probe":
                    self.latencies[event["seq"]] = time.time() - event["sent"]
                    if len(self.latencies) >= self.want:
                        self.got.set()

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_a_viewer_that_never_reads_is_cut_off_and_freed_while_others_keep_up(
    serve: ServeProcess, actors: Actors, settings: Settings, clean_log: None
) -> None:
    show, _ = await _show(actors)
    sid = show["id"]
    viewers = []
    for _ in range(100):
        ws = await connect(_ws_url(serve), max_size=None, ping_interval=None)
        await ws.send(json.dumps({"type": "join", "id": 1, "session": sid}))
        while json.loads(await ws.recv()).get("type") != "ack":
            pass
        viewers.append(Viewer(ws))
    # The stuck viewer: a tiny receive buffer, and it never reads after its join ack.
    stuck = RawWebSocket("127.0.0.1", serve.port, rcvbuf=4096)
    stuck_port = stuck.sock.getsockname()[1]
    redis = redisclient.connect(settings.redis_url or "")
    before = _metrics(serve)
    try:
        stuck.send_text(json.dumps({"type": "join", "session": sid, "id": "j"}))
        while b'"type":"ack"' not in (await asyncio.to_thread(stuck.read_frame, seconds(5)))[1]:
            pass
            assert _server_sockets_to(serve, stuck_port)
        padding = "x" * 16_000
        slow_key = f'livecommerce_hub_closes_total{{code="{CLOSE_SLOW}"}}'
        published: list[int] = []
        # Publish at a show's pace until the server gives up on the stuck viewer (after
        # its kernel buffers, ~3-4 MB, and its outbox filled), then 20 more events.
        while len(published) < 400:
            published.append(
                await publish(redis, sid, {"type": "probe", "sent": time.time(), "pad": padding})
            )
            if len(published) % 10 == 0:
                await asyncio.sleep(0.01)
            if len(published) % 20 == 0 and _metrics(serve).get(slow_key, 0) > before.get(
                slow_key, 0
            ):
                break
        cut_after = len(published)
        backlog = sum(_server_sockets_to(serve, stuck_port))
        for _ in range(20):
            published.append(
                await publish(redis, sid, {"type": "probe", "sent": time.time(), "pad": padding})
            )
        for v in viewers:
            v.want = len(published)
            if len(v.latencies) >= v.want:
                v.got.set()
        # Every other viewer gets every event, in order.
        async with asyncio.timeout(seconds(60)):
            await asyncio.gather(*(v.got.wait() for v in viewers))
        for v in viewers:
            assert sorted(v.latencies) == published
        cut_at = time.monotonic()
        # The stuck one is gone from the server: its socket (and the megabytes queued
        # for it) and its connection; the slow-consumer counter says why.
        async with asyncio.timeout(seconds(20)):
            while _server_sockets_to(serve, stuck_port):
                await asyncio.sleep(0.05)  # polling another process's sockets
        gone_s = time.monotonic() - cut_at
        after = _metrics(serve)
        assert after.get(slow_key, 0) == before.get(slow_key, 0) + 1
        assert after["livecommerce_hub_connections"] == before["livecommerce_hub_connections"] - 1
        everything = sorted(x for v in viewers for x in v.latencies.values())
        p50 = everything[len(everything) // 2]
        p99 = everything[int(len(everything) * 0.99)]
        print(
            f"\n100 viewers x {len(published)} events of 16 KB (cut after {cut_after}): "
            f"p50 {p50 * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms, max {everything[-1] * 1000:.1f} ms; "
            f"stuck socket ({backlog} bytes unsent at the cut) gone {gone_s:.2f} s after "
            "the others had everything"
        )
        # It was aborted: reading now finds a reset (or nothing), not a live connection.
        with pytest.raises((ConnectionError, OSError)):
            while True:
                stuck.sock.settimeout(seconds(5))
                if not stuck.sock.recv(1 << 20):
                    raise ConnectionError("closed")
    finally:
        for v in viewers:
            await v.close()
        stuck.close()
        await redis.aclose()


def _shapes() -> list[Any]:
    return [["x"], {"a": 1}, 1.5, "s", 7, True, -3]


#: Fields each request type reads (a wrong JSON type in any must be validation_failed).
_FIELDS = {
    "auth": ["token"],
    "join": ["session", "since"],
    "leave": [],
    "chat": ["text"],
    "react": ["kind"],
    "pin": [
        "session",
        "product_id",
        "flash_price_minor",
        "quantity_cap",
        "ends_at",
        "duration_s",
    ],
    "unpin": ["session"],
    "moderate": ["session", "action", "user_id", "minutes", "seconds", "words", "reason"],
    "ping": [],
}


async def test_wrong_types_are_validation_failed_with_the_id_and_log_nothing(
    serve: ServeProcess, actors: Actors, clean_log: None
) -> None:
    assert set(_FIELDS) == CLIENT_TYPES
    show, product = await _show(actors)
    sid = show["id"]
    first = await HubClient.open(serve.url)
    try:
        reply = await first.request(["join"])  # type: ignore[arg-type]
        assert reply["code"] == "validation_failed" and reply["id"] is not None, reply
        await first.join(sid)
        reply = await first.request("react", kind=["heart"])
        assert reply["code"] == "validation_failed", reply
    finally:
        await first.close()
    cases: list[tuple[Any, dict[str, Any]]] = [(shape, {}) for shape in _shapes()[:3]]
    for kind, fields in _FIELDS.items():
        base: dict[str, Any] = {
            "pin": {"product_id": product},
            "moderate": {"action": "mute", "user_id": show["host"]["id"], "minutes": 1},
        }.get(kind, {})
        for field in fields:
            cases.extend((kind, {**base, field: shape}) for shape in _shapes())
    seen: dict[str, int] = {}
    for start in range(0, len(cases), 30):  # a fresh connection within the request rate
        # Signed in as the host and joined, so the checks after validation (rights,
        # joined) do not answer first.
        conn = await HubClient.open(serve.url, token=show["host"]["token"])
        try:
            await conn.join(sid)
            for kind, body in cases[start : start + 30]:
                reply = await conn.request(kind, **body)
                if reply["type"] == "error":
                    assert reply["code"] != "internal", (kind, body, reply)
                    assert reply["id"] is not None, reply
                    seen[reply["code"]] = seen.get(reply["code"], 0) + 1
        finally:
            await conn.close()
    assert seen.get("validation_failed", 0) > 40, seen
    assert "rate_limited" not in seen, seen


async def test_rate_limited_replies_echo_the_request_id(
    serve: ServeProcess, clean_log: None
) -> None:
    ws = await connect(_ws_url(serve), max_size=None, ping_interval=None)
    try:
        await ws.recv()  # hello
        for i in range(60):
            await ws.send(json.dumps({"type": "ping", "id": f"r{i}"}))
        limited = []
        async with asyncio.timeout(seconds(10)):
            for _ in range(60):  # one reply per ping: a pong or an error
                frame = json.loads(await ws.recv())
                if frame.get("code") == "rate_limited":
                    limited.append(frame["id"])
        assert limited and all(isinstance(i, str) and i.startswith("r") for i in limited)
    finally:
        await ws.close()


async def test_too_large_is_an_error_frame_up_to_the_websocket_limit_then_1009(
    serve: ServeProcess, clean_log: None
) -> None:
    ws = await connect(_ws_url(serve), max_size=None, ping_interval=None)
    try:
        await ws.recv()  # hello
        await ws.send(json.dumps({"type": "ping", "id": 1, "pad": "x" * 20_000}))
        reply = json.loads(await ws.recv())
        assert reply["type"] == "error" and reply["code"] == "too_large", reply
        await ws.send(json.dumps({"type": "ping", "id": 2}))
        assert json.loads(await ws.recv()) == {"type": "pong", "id": 2}
        await ws.send(json.dumps({"type": "ping", "id": 3, "pad": "x" * 70_000}))
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(seconds(5)):
                while True:
                    await ws.recv()
        assert ws.close_code == 1009
    finally:
        await ws.close()


async def test_an_empty_token_is_anonymous_and_a_binary_frame_is_malformed(
    serve: ServeProcess, clean_log: None
) -> None:
    ws = await connect(_ws_url(serve, "?token="), max_size=None, ping_interval=None)
    try:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["user_id"] is None
        await ws.send(json.dumps({"type": "ping", "id": 1}).encode())  # a binary frame
        reply = json.loads(await ws.recv())
        assert reply["type"] == "error" and reply["code"] == "malformed", reply
        await ws.send(json.dumps({"type": "ping", "id": 2}))
        assert json.loads(await ws.recv()) == {"type": "pong", "id": 2}
    finally:
        await ws.close()


async def test_join_replies_snapshot_or_replay_first_then_the_ack(
    serve: ServeProcess, actors: Actors, settings: Settings, clean_log: None
) -> None:
    show, _ = await _show(actors)
    sid = show["id"]
    redis = redisclient.connect(settings.redis_url or "")
    viewer = await HubClient.open(serve.url)
    try:
        ack = await viewer.join(sid)
        kinds = [f["type"] for f in viewer.frames]
        assert kinds[:3] == ["hello", "snapshot", "ack"], kinds
        seqs = [await publish(redis, sid, {"type": "probe", "n": i}) for i in range(3)]
        again = await HubClient.open(serve.url)
        await again.join(sid, since=ack["seq"])
        # The first viewer's join may put a `viewers` count in the stream (pushed at most
        # once a second) before the probes: it is a missed event too, replayed in its place.
        frames = [f for f in again.frames if f["type"] != "viewers"]
        kinds = [f["type"] for f in frames]
        assert kinds[:5] == ["hello", "probe", "probe", "probe", "ack"], kinds
        assert [f["seq"] for f in frames[1:4]] == seqs
        replayed = [f["seq"] for f in again.frames if "seq" in f and f["type"] != "ack"]
        assert replayed == sorted(replayed) and replayed[0] == ack["seq"] + 1
        await again.close()
    finally:
        await viewer.close()
        await redis.aclose()


def test_invalid_utf8_closes_with_1007_without_an_error_in_the_log(
    serve: ServeProcess, clean_log: None
) -> None:
    raw = RawWebSocket("127.0.0.1", serve.port)
    try:
        raw.read_frame(seconds(5))  # hello
        payload = b'{"type":"ping","x":"\xff\xfe"}'
        mask = b"\x01\x02\x03\x04"
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        raw.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        frames = raw.read_until_closed(seconds(5))
        closes = [p for op, p in frames if op == 8]
        assert closes and struct.unpack("!H", closes[0][:2])[0] == 1007, frames
    finally:
        raw.close()


async def test_hub_metrics_are_exported(
    serve: ServeProcess, actors: Actors, clean_log: None
) -> None:
    show, _ = await _show(actors)
    before = _metrics(serve)
    viewer = await HubClient.open(serve.url)
    try:
        await viewer.join(show["id"])
        await viewer.request("react", kind="nope")
        after = _metrics(serve)
        assert after["livecommerce_hub_joins_total"] == before["livecommerce_hub_joins_total"] + 1
        assert after["livecommerce_hub_connections"] >= 1
        assert after["livecommerce_hub_rooms"] >= 1
        key = 'livecommerce_hub_errors_total{code="validation_failed"}'
        assert after[key] >= before.get(key, 0) + 1
        assert "livecommerce_hub_frames_sent_total" in after
        assert "livecommerce_hub_fanout_seconds_count" in after
    finally:
        await viewer.close()
