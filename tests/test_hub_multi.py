"""Two hub processes (``livecommerce serve``) sharing one Redis and one database."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from livecommerce import keys, redisclient
from livecommerce.hub.protocol import CLOSE_BANNED, CLOSE_SLOW
from livecommerce.sessionfeed import publish
from livecommerce.settings import Settings
from tests.hub_client import HubClient
from tests.processes import ServeProcess
from tests.rawws import RawWebSocket
from tests.support import Actors, seconds


@pytest.fixture(scope="module")
def hubs(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServeProcess]]:
    # A small send buffer so a stuck viewer is found after little data (~4 MB of it sits
    # in the kernel's socket buffers first).
    procs = [
        ServeProcess(
            settings,
            tmp_path_factory.mktemp(f"hub{i}"),
            log_level="WARNING",
            HUB_SEND_QUEUE="16",
            HUB_SEND_BUFFER_BYTES="262144",
            HUB_PING_INTERVAL_S="0",
            # The stuck viewer below reads again long after it was cut off: it must still
            # find its 4008 close frame (not an aborted connection).
            HUB_CLOSE_GRACE_S="120",
        )
        for i in range(2)
    ]
    try:
        for proc in procs:
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.stop()


async def _show(actors: Actors, n: int) -> tuple[dict[str, Any], list[int]]:
    owner = await actors.brand()
    ids = [(await actors.product(owner=owner))["id"] for _ in range(n)]
    return await actors.show(product_ids=ids, live=True), ids


async def test_pins_sent_to_one_process_reach_viewers_of_the_other_in_order(
    hubs: list[ServeProcess], actors: Actors
) -> None:
    a, b = hubs
    show, products = await _show(actors, 3)
    viewers = [await HubClient.open(b.url) for _ in range(3)] + [await HubClient.open(a.url)]
    host = await HubClient.open(a.url, token=show["host"]["token"])
    try:
        for v in viewers:
            await v.join(show["id"])
        sent = []
        for i in range(6):
            reply = await host.request("pin", session=show["id"], product_id=products[i % 3])
            assert reply["type"] == "ack", reply
            sent.append(reply["pin"]["id"])
        reply = await host.request("unpin", session=show["id"])
        assert reply["type"] == "ack"
        for v in viewers:
            await v.wait(lambda f: f["type"] == "unpinned")
            got = [f["pin"]["pin_id"] for f in v.events("pinned")]
            assert got == sent
            seqs = v.seqs()
            assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    finally:
        for v in [*viewers, host]:
            await v.close()


async def test_a_viewer_that_stops_reading_is_cut_off_and_recovers_others_unaffected(
    hubs: list[ServeProcess], actors: Actors, settings: Settings
) -> None:
    a, b = hubs
    show, _ = await _show(actors, 1)
    sid = show["id"]
    others = [await HubClient.open((a, b)[i % 2].url) for i in range(100)]
    # The stuck viewer: a tiny receive buffer, and it reads nothing until the end.
    stuck = RawWebSocket("127.0.0.1", a.port)
    redis = redisclient.connect(settings.redis_url or "")
    try:
        await asyncio.gather(*(o.join(sid) for o in others))
        stuck.send_text(json.dumps({"type": "join", "session": sid, "id": "j"}))
        while b'"type":"ack"' not in (await asyncio.to_thread(stuck.read_frame, seconds(5)))[1]:
            pass
        padding = "x" * 16_000
        published = []
        for i in range(360):
            published.append(
                await publish(redis, sid, {"type": "price", "product_id": i, "note": padding})
            )
        # Everyone else gets every event, in order.
        for o in others:
            await o.wait(lambda f, last=published[-1]: f.get("seq") == last, timeout=30)
            prices = [f["seq"] for f in o.events("price")]
            assert prices == published
        # The stuck one now reads: what was queued before it was cut off, then 4008.
        frames = await asyncio.to_thread(stuck.read_until_closed, seconds(10))
        received = [
            json.loads(payload)["seq"]
            for opcode, payload in frames
            if opcode == 1 and b'"type":"price"' in payload[:60]
        ]
        closes = [payload for opcode, payload in frames if opcode == 8]
        code = struct.unpack("!H", closes[0][:2])[0] if closes else None
        assert code == CLOSE_SLOW, (code, len(received), len(frames))
        assert len(received) < len(published)
        # It recovers: rejoin with since gets exactly the rest.
        last = received[-1] if received else published[0] - 1
        again = await HubClient.open(a.url)
        ack = await again.join(sid, since=last)
        await again.wait(lambda f: f.get("seq") == published[-1], timeout=15)
        if ack["replayed"] is not None:
            assert [f["seq"] for f in again.events("price")] == [s for s in published if s > last]
        await again.close()
    finally:
        for o in others:
            await o.close()
        stuck.close()
        await redis.aclose()


async def test_rejoin_on_the_other_process_with_since_gets_the_missed_events_or_a_snapshot(
    hubs: list[ServeProcess], actors: Actors, settings: Settings
) -> None:
    a, b = hubs
    show, _ = await _show(actors, 1)
    sid = show["id"]
    redis = redisclient.connect(settings.redis_url or "")
    viewer = await HubClient.open(a.url)
    try:
        await viewer.join(sid)
        first = await publish(redis, sid, {"type": "price", "product_id": 1, "price_minor": -1})
        await viewer.wait(lambda f: f.get("seq") == first)
        await viewer.close()
        missed = [
            await publish(redis, sid, {"type": "price", "product_id": 1, "price_minor": i})
            for i in range(20)
        ]
        viewer = await HubClient.open(b.url)
        ack = await viewer.join(sid, since=first)
        await viewer.wait(lambda f: f.get("seq") == missed[-1])
        replayed = [f for f in viewer.frames if f.get("type") not in ("hello", "ack")]
        replayed = replayed[: ack["replayed"]]
        assert [f["seq"] for f in replayed] == list(range(first + 1, ack["seq"] + 1))
        prices = [f for f in replayed if f["type"] == "price"]
        assert [f["seq"] for f in prices] == missed
        assert [f["price_minor"] for f in prices] == list(range(20))
        assert not viewer.events("snapshot")
        await redis.xtrim(keys.session_events(sid), maxlen=5, approximate=False)
        again = await HubClient.open(a.url)
        ack = await again.join(sid, since=first)
        assert ack["replayed"] is None
        snap = await again.wait(lambda f: f["type"] == "snapshot")
        assert snap["seq"] >= missed[-1]
        await again.close()
    finally:
        await viewer.close()
        await redis.aclose()


async def test_a_viewer_token_cannot_pin_on_any_process(
    hubs: list[ServeProcess], actors: Actors, settings: Settings
) -> None:
    show, products = await _show(actors, 1)
    someone = await actors.user("viewer")
    redis = redisclient.connect(settings.redis_url or "")
    try:
        before = await redis.get(keys.session_seq(show["id"]))
        for hub in hubs:
            viewer = await HubClient.open(hub.url, token=someone["token"])
            reply = await viewer.request("pin", session=show["id"], product_id=products[0])
            assert reply["type"] == "error" and reply["code"] == "forbidden"
            await viewer.close()
        assert await redis.get(keys.session_seq(show["id"])) == before
        assert await redis.get(keys.session_pin(show["id"])) is None
    finally:
        await redis.aclose()


async def test_a_ban_closes_the_users_connections_on_every_process_and_refuses_rejoin(
    hubs: list[ServeProcess], actors: Actors
) -> None:
    a, b = hubs
    show, _ = await _show(actors, 1)
    sid = show["id"]
    target = await actors.user("viewer")
    banned = [await HubClient.open(h.url, token=target["token"]) for h in (a, b)]
    others = [await HubClient.open(h.url) for h in (a, b)]
    offsets = [h.log_offset() for h in (a, b)]
    try:
        for conn in [*banned, *others]:
            await conn.join(sid)
        r = await actors.client.post(
            f"{a.url}/api/sessions/{sid}/moderation",
            json={"action": "ban", "user_id": target["id"]},
            headers=show["host"]["headers"],
        )
        assert r.status_code == 201, r.text
        for conn in banned:
            assert await conn.wait_closed() == CLOSE_BANNED
            assert conn.events("user_banned")  # told why, then closed
        for conn in others:  # everyone else stays, and is told
            told = await conn.wait(lambda f: f["type"] == "user_banned")
            assert told["user_id"] == target["id"]
            assert (await conn.request("react", kind="heart"))["type"] == "ack"
        for h in (a, b):
            again = await HubClient.open(h.url, token=target["token"])
            refused = await again.request("join", session=sid)
            assert refused["type"] == "error" and refused["code"] == "banned", refused
            await again.close()
        # Closing a banned user's connections is no error in either process's log.
        assert [h.bad_lines(o) for h, o in zip((a, b), offsets, strict=True)] == [[], []]
    finally:
        for conn in [*banned, *others]:
            await conn.close()
