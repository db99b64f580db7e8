"""``order_status`` frames: a buyer's own connections hear about the buyer's orders, on
every server process, and nobody else's connections do (I6)."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from livecommerce import keys, userfeed
from livecommerce.hub.protocol import CLOSE_SLOW
from livecommerce.settings import Settings
from tests.cart_support import buy, buyer
from tests.hub_client import HubClient
from tests.processes import ServeProcess
from tests.rawws import RawWebSocket
from tests.support import Actors, ServerThread, seconds, wait_for


@pytest.fixture(scope="module")
def other_process(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """A second server process beside the suite's in-process server (same Redis and SQL)."""
    proc = ServeProcess(
        settings,
        tmp_path_factory.mktemp("userevents"),
        log_level="WARNING",
        # A small send buffer, so a connection that stops reading is found after little
        # data; the grace lets it read its 4008 close frame long after it was cut off.
        HUB_SEND_QUEUE="16",
        HUB_SEND_BUFFER_BYTES="262144",
        HUB_PING_INTERVAL_S="0",
        HUB_CLOSE_GRACE_S="120",
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def _statuses(client: HubClient) -> list[tuple[str, str]]:
    return [(f["order_id"], f["status"]) for f in client.events("order_status")]


async def _order_status(client: HubClient, order_id: str, status: str) -> dict[str, Any]:
    frame: dict[str, Any] = await client.wait(
        lambda f: (
            f["type"] == "order_status" and f["order_id"] == order_id and f["status"] == status
        )
    )
    return frame


async def _bought(client: httpx.AsyncClient, user: dict[str, Any], product: dict[str, Any]) -> str:
    r = await buy(client, user, product)
    assert r.status_code == 201, r.text
    order_id: str = r.json()["id"]
    return order_id


async def test_the_buyer_hears_of_its_order_bought_fulfilled_refunded_and_nobody_else_does(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient
) -> None:
    owner = await actors.brand()
    product = await actors.product(stock=5, owner=owner)
    alice, bob = await buyer(actors), await buyer(actors)
    # Alice signs in with ?token= (ready at hello), Bob with an auth request (ready at ack).
    a1 = await HubClient.open(server.url, token=alice["token"])
    b = await HubClient.open(server.url)
    try:
        await a1.wait(lambda f: f["type"] == "hello")
        reply = await b.request("auth", token=bob["token"])
        assert reply["type"] == "ack" and reply["user_id"] == bob["id"]
        before = int(time.time() * 1000)
        order = await _bought(client, alice, product)
        paid = await _order_status(a1, order, "paid")
        assert set(paid) == {"type", "order_id", "status", "ts"}
        assert before <= paid["ts"] <= int(time.time() * 1000)
        brand = owner[1]["headers"]
        r = await client.post(f"/api/orders/{order}/fulfil", headers=brand)
        assert r.status_code == 200, r.text
        await _order_status(a1, order, "fulfilled")
        r = await client.post(f"/api/orders/{order}/refund", headers=brand)
        assert r.status_code == 200, r.text
        await _order_status(a1, order, "refunded")
        # A refused change (already refunded) tells nobody anything.
        r = await client.post(f"/api/orders/{order}/fulfil", headers=brand)
        assert r.status_code == 409
        # Bob's own order is the marker: it comes after all of Alice's, on the same
        # channel kind, so had any of hers reached Bob it would be here by now.
        marker = await _bought(client, bob, product)
        await _order_status(b, marker, "paid")
        await _order_status(a1, order, "refunded")
        assert _statuses(b) == [(marker, "paid")]
        assert _statuses(a1) == [(order, "paid"), (order, "fulfilled"), (order, "refunded")]
    finally:
        await a1.close()
        await b.close()


async def test_one_subscription_per_user_and_process_dropped_with_the_last_connection(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient, redis: Redis
) -> None:
    product = await actors.product(stock=5)
    alice = await buyer(actors)
    channel = keys.user_feed(alice["id"])

    assert await _subscribers(redis, channel) == 0
    first = await HubClient.open(server.url, token=alice["token"])
    second = await HubClient.open(server.url, token=alice["token"])
    try:
        for c in (first, second):
            await c.wait(lambda f: f["type"] == "hello")
        assert await _subscribers(redis, channel) == 1  # one per process, however many connections
        await first.close()
        order = await _bought(client, alice, product)
        await _order_status(second, order, "paid")  # the other connection still hears
        await second.close()
        await wait_for(lambda: _subscribers(redis, channel, expect=0))
    finally:
        await first.close()
        await second.close()


async def _subscribers(redis: Redis, channel: str, expect: int | None = None) -> int | bool:
    """How many connections (hub processes) subscribe to the shard channel; with
    ``expect``, whether that many do."""
    cluster: object = redis
    if not isinstance(cluster, RedisCluster):
        [(_, count)] = await redis.pubsub_shardnumsub(channel)
    else:  # asked of the master that owns the channel's slot
        await cluster.initialize()
        node = cluster.get_node_from_key(channel)
        [(_, count)] = await cluster.pubsub_shardnumsub(channel, target_nodes=node)
    return int(count) if expect is None else int(count) == expect


async def test_frames_flow_again_after_the_hub_loses_its_redis_connections(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient, redis: Redis
) -> None:
    product = await actors.product(stock=10)
    # Four users: on a 3-master cluster two of them share a master, whose connection must
    # then subscribe again to channels of two slots (one SSUBSCRIBE each).
    users = [await buyer(actors) for _ in range(4)]
    conns = [await HubClient.open(server.url, token=u["token"]) for u in users]
    try:
        for c in conns:
            await c.wait(lambda f: f["type"] == "hello")
        assert await _kill_pubsub_connections(redis) >= 1
        for u in users:
            await wait_for(lambda u=u: _subscribers(redis, keys.user_feed(u["id"]), expect=1))
        for u, c in zip(users, conns, strict=True):
            order = await _bought(client, u, product)
            await _order_status(c, order, "paid")
    finally:
        for c in conns:
            await c.close()


async def _kill_pubsub_connections(redis: Redis) -> int:
    """Cut every pub/sub connection of the suite's Redis (every master of a cluster)."""
    cluster: object = redis
    if not isinstance(cluster, RedisCluster):
        return int(await redis.client_kill_filter(_type="pubsub"))
    await cluster.initialize()
    killed = 0
    for node in cluster.get_primaries():
        async with Redis(host=node.host, port=int(node.port)) as master:
            killed += int(await master.client_kill_filter(_type="pubsub"))
    return killed


async def test_a_user_who_comes_back_at_once_is_followed_again(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient
) -> None:
    product = await actors.product(stock=5)
    alice = await buyer(actors)
    # Each close unsubscribes and the next sign-in subscribes again, often before Redis
    # has answered the unsubscription: the answers must not be taken for the server's own.
    for _ in range(20):
        conn = await HubClient.open(server.url, token=alice["token"])
        await conn.wait(lambda f: f["type"] == "hello")
        await conn.close()
    conn = await HubClient.open(server.url, token=alice["token"])
    try:
        await conn.wait(lambda f: f["type"] == "hello")
        order = await _bought(client, alice, product)
        await _order_status(conn, order, "paid")
    finally:
        await conn.close()


async def test_signing_in_as_someone_else_stops_the_first_users_frames(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient
) -> None:
    product = await actors.product(stock=5)
    alice, bob = await buyer(actors), await buyer(actors)
    conn = await HubClient.open(server.url, token=alice["token"])
    try:
        await conn.wait(lambda f: f["type"] == "hello")
        first = await _bought(client, alice, product)
        await _order_status(conn, first, "paid")
        reply = await conn.request("auth", token=bob["token"])
        assert reply["type"] == "ack" and reply["user_id"] == bob["id"]
        hers = await _bought(client, alice, product)
        his = await _bought(client, bob, product)  # the marker, published after hers
        await _order_status(conn, his, "paid")
        assert _statuses(conn) == [(first, "paid"), (his, "paid")]
        assert hers not in {order for order, _ in _statuses(conn)}
    finally:
        await conn.close()


async def test_a_change_made_through_one_process_reaches_the_buyer_on_another(
    other_process: ServeProcess, actors: Actors, client: httpx.AsyncClient
) -> None:
    owner = await actors.brand()
    product = await actors.product(stock=5, owner=owner)
    alice, bob = await buyer(actors), await buyer(actors)
    # Both listen on the other process; every HTTP call goes to the suite's server.
    a = await HubClient.open(other_process.url, token=alice["token"])
    b = await HubClient.open(other_process.url, token=bob["token"])
    try:
        for c in (a, b):
            await c.wait(lambda f: f["type"] == "hello")
        order = await _bought(client, alice, product)
        await _order_status(a, order, "paid")
        r = await client.post(f"/api/orders/{order}/fulfil", headers=owner[1]["headers"])
        assert r.status_code == 200, r.text
        await _order_status(a, order, "fulfilled")
        marker = await _bought(client, bob, product)
        await _order_status(b, marker, "paid")
        assert _statuses(b) == [(marker, "paid")]
        assert _statuses(a) == [(order, "paid"), (order, "fulfilled")]
        # Two users signed in there, so two user channels subscribed by that process.
        metrics = (await client.get(other_process.url + "/metrics")).text
        assert "\nlivecommerce_hub_user_channels 2.0\n" in metrics
    finally:
        await a.close()
        await b.close()


async def test_a_connection_that_stops_reading_is_cut_off_alone(
    other_process: ServeProcess, actors: Actors, redis: Redis
) -> None:
    alice, bob = await actors.user(), await actors.user()
    # Alice twice: one connection that never reads (a tiny receive buffer), one that does.
    stuck = RawWebSocket("127.0.0.1", other_process.port)
    reading = await HubClient.open(other_process.url, token=alice["token"])
    b = await HubClient.open(other_process.url, token=bob["token"])
    try:
        stuck.send_text(json.dumps({"type": "auth", "token": alice["token"], "id": "a"}))
        while b'"type":"ack"' not in (await asyncio.to_thread(stuck.read_frame, seconds(5)))[1]:
            pass
        for c in (reading, b):
            await c.wait(lambda f: f["type"] == "hello")
        # Far more than the socket buffers and the send queue hold (the publisher here
        # stands in for the cart: same channel, same path through the hub).
        padding = "x" * 16_000
        sent = [f"o{i}" for i in range(360)]
        for order_id in sent:
            frame = {**userfeed.order_status(order_id, "paid", 0), "note": padding}
            await userfeed.publish(redis, alice["id"], frame)
        await userfeed.publish(redis, bob["id"], userfeed.order_status("marker", "paid", 0))
        await reading.wait(lambda f: f.get("order_id") == sent[-1], timeout=30)
        assert [order for order, _ in _statuses(reading)] == sent
        await b.wait(lambda f: f.get("order_id") == "marker")
        assert _statuses(b) == [("marker", "paid")]
        # The one that did not read: what was queued before it was cut off, then 4008.
        frames = await asyncio.to_thread(_until_close_frame, stuck)
        got = [json.loads(p)["order_id"] for op, p in frames if op == 1 and b"order_id" in p]
        closes = [p for op, p in frames if op == 8]
        code = struct.unpack("!H", closes[0][:2])[0] if closes else None
        assert code == CLOSE_SLOW, (code, len(got))
        assert got == sent[: len(got)] and len(got) < len(sent)
    finally:
        stuck.close()
        await reading.close()
        await b.close()


def _until_close_frame(ws: RawWebSocket) -> list[tuple[int, bytes]]:
    """Every frame up to and with the close frame (the server then waits for ours)."""
    frames = [ws.read_frame(seconds(10))]
    while frames[-1][0] != 8:
        frames.append(ws.read_frame(seconds(10)))
    return frames
