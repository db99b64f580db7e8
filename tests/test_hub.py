"""The hub on one server: joining, pins over WebSocket and HTTP, chat, limits, recovery."""

from __future__ import annotations

from typing import Any

import httpx

from livecommerce import encoding, keys, redisclient
from livecommerce.hub.protocol import CLOSE_BANNED
from livecommerce.moderation import state as moderation
from livecommerce.sessionfeed import publish
from tests.hub_client import HubClient
from tests.support import Actors, ServerThread


async def _live_show(actors: Actors, products: int = 2) -> tuple[dict[str, Any], list[int]]:
    owner = await actors.brand()
    ids = [(await actors.product(owner=owner, stock=5))["id"] for _ in range(products)]
    show = await actors.show(product_ids=ids, live=True)
    return show, ids


async def test_join_gets_snapshot_then_host_pin_reaches_viewer(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient
) -> None:
    show, products = await _live_show(actors)
    viewer = await HubClient.open(server.url)
    host = await HubClient.open(server.url, token=show["host"]["token"])
    try:
        ack = await viewer.join(show["id"])
        snap = await viewer.wait(lambda f: f["type"] == "snapshot")
        assert snap["session"] == show["id"] and snap["status"] == "live"
        assert snap["pinned"] is None and snap["seq"] == ack["seq"]
        reply = await host.request(
            "pin", session=show["id"], product_id=products[0], flash_price_minor=500, duration_s=60
        )
        assert reply["type"] == "ack", reply
        pinned = await viewer.wait(lambda f: f["type"] == "pinned")
        assert pinned["pin"]["pin_id"] == reply["pin"]["id"]
        assert pinned["product"]["id"] == products[0]
        assert pinned["pin"]["flash_price_minor"] == 500 and pinned["pin"]["ends_at_ms"]
        assert pinned["seq"] > snap["seq"]
        state = (await client.get(f"/api/sessions/{show['id']}/state")).json()
        assert state["pinned"]["pin"]["pin_id"] == reply["pin"]["id"]
        history = (await client.get(f"/api/sessions/{show['id']}/pins")).json()
        assert [p["id"] for p in history] == [reply["pin"]["id"]]
        assert history[0]["offset_ms"] >= 0 and history[0]["unpinned_at"] is None
    finally:
        await viewer.close()
        await host.close()


async def test_viewer_token_cannot_pin_and_nothing_is_published(
    server: ServerThread, actors: Actors, settings: Any
) -> None:
    show, products = await _live_show(actors)
    someone = await actors.user("viewer")
    viewer = await HubClient.open(server.url, token=someone["token"])
    redis = redisclient.connect(settings.redis_url)
    try:
        await viewer.join(show["id"])
        before = await redis.get(keys.session_seq(show["id"]))
        reply = await viewer.request("pin", product_id=products[0])
        assert reply["type"] == "error" and reply["code"] == "forbidden"
        reply = await viewer.request("unpin")
        assert reply["type"] == "error" and reply["code"] == "forbidden"
        assert await redis.get(keys.session_pin(show["id"])) is None
        anonymous = await HubClient.open(server.url)
        await anonymous.join(show["id"])
        reply = await anonymous.request("pin", product_id=products[0])
        assert reply["type"] == "error" and reply["code"] == "unauthorized"
        await anonymous.close()
        # Other events (the viewer count after the joins) may follow; none is a pin.
        since = int(before or 0)
        entries = await redis.xrange(keys.session_events(show["id"]), min=f"{since + 1}-0")
        kinds = {encoding.loads(fields[b"e"])["type"] for _, fields in entries}
        assert not kinds & {"pinned", "unpinned"}, kinds
    finally:
        await viewer.close()
        await redis.aclose()


async def test_http_pins_and_unpins(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient
) -> None:
    show, products = await _live_show(actors)
    headers = show["host"]["headers"]
    url = f"/api/sessions/{show['id']}/pins"
    viewer = await HubClient.open(server.url)
    try:
        await viewer.join(show["id"])
        r = await client.delete(url, headers=headers)
        assert r.status_code == 409 and r.json()["code"] == "not_pinned"
        other = await actors.product()
        r = await client.post(url, json={"product_id": other["id"]}, headers=headers)
        assert r.status_code == 422 and r.json()["code"] == "not_in_lineup"
        r = await client.post(
            url, json={"product_id": products[0], "quantity_cap": 3}, headers=headers
        )
        assert r.status_code == 201, r.text
        first = r.json()
        r = await client.post(url, json={"product_id": products[1]}, headers=headers)
        second = r.json()
        r = await client.post(url, json={"product_id": products[1]})
        assert r.status_code == 401
        r = await client.delete(url, headers=headers)
        assert r.status_code == 204
        unpinned = await viewer.wait(lambda f: f["type"] == "unpinned")
        assert unpinned["pin_id"] == second["id"]
        kinds = [f["type"] for f in viewer.frames if f["type"] in ("pinned", "unpinned")]
        assert kinds == ["pinned", "pinned", "unpinned"]
        history = (await client.get(url)).json()
        assert [p["id"] for p in history] == [first["id"], second["id"]]
        assert all(p["unpinned_at"] for p in history)
        assert (await client.get(f"/api/sessions/{show['id']}/state")).json()["pinned"] is None
    finally:
        await viewer.close()


async def test_bad_frames_get_errors_and_the_connection_carries_on(
    server: ServerThread, actors: Actors
) -> None:
    show, _ = await _live_show(actors, products=1)
    viewer = await HubClient.open(server.url)
    try:
        await viewer.ws.send("this is not json")
        error = await viewer.wait(lambda f: f["type"] == "error")
        assert error["code"] == "malformed"
        reply = await viewer.request("fly", to="moon")
        assert reply["type"] == "error" and reply["code"] == "unknown_type"
        reply = await viewer.request("join", session="x")
        assert reply["code"] == "validation_failed"
        reply = await viewer.request("join", session=10**9)
        assert reply["code"] == "not_found"
        reply = await viewer.request("chat", text="hi")
        assert reply["code"] == "not_joined"
        await viewer.join(show["id"])
        reply = await viewer.request("chat", text="hi")
        assert reply["code"] == "unauthorized"
        reply = await viewer.request("react", kind="heart")
        assert reply["type"] == "ack"
        reactions = await viewer.wait(lambda f: f["type"] == "reactions")
        assert reactions["counts"] == {"heart": 1}
    finally:
        await viewer.close()


async def test_chat_limits_mute_ban_and_delete(
    server: ServerThread, actors: Actors, settings: Any
) -> None:
    show, _ = await _live_show(actors, products=1)
    talker = await actors.user("viewer")
    conn = await HubClient.open(server.url, token=talker["token"])
    redis = redisclient.connect(settings.redis_url)
    try:
        await conn.join(show["id"])
        reply = await conn.request("chat", text="x" * (settings.hub_chat_max_len + 1))
        assert reply["code"] == "too_long"
        reply = await conn.request("chat", text="hello everyone")
        assert reply["type"] == "ack"
        message = await conn.wait(lambda f: f["type"] == "chat")
        assert message["message_id"] == reply["message_id"] and message["text"] == "hello everyone"
        for _ in range(settings.hub_chat_rate - 1):
            assert (await conn.request("chat", text="more"))["type"] == "ack"
        reply = await conn.request("chat", text="one too many")
        assert reply["code"] == "chat_rate_limited"
        await redis.delete(keys.session_chat_rate(show["id"], talker["id"]))
        await moderation.mute(redis, show["id"], talker["id"], until_ms=2**41)
        assert (await conn.request("chat", text="muted?"))["code"] == "muted"
        await moderation.unmute(redis, show["id"], talker["id"])
        watcher = await HubClient.open(server.url)
        await watcher.join(show["id"])
        await moderation.ban(redis, show["id"], talker["id"])  # removed from the show
        assert await conn.wait_closed() == CLOSE_BANNED
        await moderation.delete_chat_message(redis, show["id"], message["message_id"])
        deleted = await watcher.wait(lambda f: f["type"] == "chat_deleted")
        assert deleted["message_id"] == message["message_id"]
        await watcher.close()
        late = await HubClient.open(server.url)
        await late.join(show["id"])
        snap = await late.wait(lambda f: f["type"] == "snapshot")
        ids = [m["message_id"] for m in snap["chat"]]
        assert message["message_id"] not in ids and len(ids) == settings.hub_chat_rate - 1
        await late.close()
        counters = await redis.hgetall(keys.session_counters(show["id"]))
        assert int(counters[b"chat_messages"]) == settings.hub_chat_rate
    finally:
        await conn.close()
        await redis.aclose()


async def test_rejoin_with_since_gets_exactly_the_missed_events_or_a_snapshot(
    server: ServerThread, actors: Actors, settings: Any
) -> None:
    show, _ = await _live_show(actors, products=1)
    sid = show["id"]
    redis = redisclient.connect(settings.redis_url)
    viewer = await HubClient.open(server.url)
    try:
        await viewer.join(sid)
        await publish(redis, sid, {"type": "price", "product_id": 1, "price_minor": 1})
        first = await viewer.wait(lambda f: f["type"] == "price")
        await viewer.close()
        missed = [
            await publish(redis, sid, {"type": "price", "product_id": 1, "price_minor": i})
            for i in range(20)
        ]
        viewer = await HubClient.open(server.url)
        ack = await viewer.join(sid, since=first["seq"])
        # Exactly the missed events, in order (a viewer-count event may be among them).
        await viewer.wait(lambda f: f.get("seq") == missed[-1])
        replayed = [f["seq"] for f in viewer.frames if "seq" in f][: ack["replayed"]]
        assert replayed == list(range(first["seq"] + 1, ack["seq"] + 1))
        got = [f for f in viewer.frames if f.get("type") == "price"]
        assert [f["seq"] for f in got] == missed
        assert [f["price_minor"] for f in got] == list(range(20))
        assert not viewer.events("snapshot")
        # Trim the history: the same request now gets a fresh snapshot.
        await redis.xtrim(keys.session_events(sid), maxlen=5, approximate=False)
        again = await HubClient.open(server.url)
        ack = await again.join(sid, since=first["seq"])
        assert ack["replayed"] is None
        snap = await again.wait(lambda f: f["type"] == "snapshot")
        assert snap["seq"] >= missed[-1]
        await again.close()
    finally:
        await viewer.close()
        await redis.aclose()


async def test_session_end_clears_pin_and_tells_viewers(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient, settings: Any
) -> None:
    show, products = await _live_show(actors, products=1)
    headers = show["host"]["headers"]
    viewer = await HubClient.open(server.url)
    redis = redisclient.connect(settings.redis_url)
    try:
        await viewer.join(show["id"])
        r = await client.post(
            f"/api/sessions/{show['id']}/pins", json={"product_id": products[0]}, headers=headers
        )
        assert r.status_code == 201
        r = await client.post(f"/api/sessions/{show['id']}/end", headers=headers)
        assert r.status_code == 200
        state = await viewer.wait(lambda f: f["type"] == "session_state")
        assert state["status"] == "ended"
        kinds = [f["type"] for f in viewer.frames if f["type"] in ("pinned", "unpinned")]
        assert kinds == ["pinned", "unpinned"]
        assert await redis.get(keys.session_pin(show["id"])) is None
        r = await client.post(
            f"/api/sessions/{show['id']}/pins", json={"product_id": products[0]}, headers=headers
        )
        assert r.status_code == 409 and r.json()["code"] == "session_not_live"
    finally:
        await viewer.close()
        await redis.aclose()
