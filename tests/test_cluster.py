"""Redis Cluster: every key family and Lua call on one slot; the app on a real cluster.

The cluster tests use the suite's cluster when ``REDIS_URL`` is a cluster URL (CI's
cluster pass, ``scripts/test_cluster``), else a private 3-master Valkey Cluster of
their own (``livecommerce.valkeycluster``), so they run in every pass.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError

from cart.component import CartComponent
from livecommerce import keys, lua, redisclient
from livecommerce.db.engine import Database
from livecommerce.hub.component import Hub
from livecommerce.redismux import ClusterMux, RedisMux
from livecommerce.settings import Settings, SettingsError
from livecommerce.valkeycluster import ValkeyCluster
from tests.cart_support import buy, buyer
from tests.hub_client import HubClient
from tests.support import Actors, ServerThread, random_address, seconds


def _slot(key: str) -> int:
    return key_slot(key.encode())


def _call(builder: Any) -> str:
    """Call a key builder with made-up arguments of the types it declares."""
    args: list[Any] = []
    for parameter in inspect.signature(builder).parameters.values():
        args.append(7 if parameter.annotation in (int, "int") else "x@example.com")
    key: str = builder(*args)
    return key


#: Keys without a hash tag: each only ever used alone (one-key commands and scripts).
UNTAGGED = {
    "on_sale",
    "throttle_login_account",
    "throttle_login_address",
    "throttle_signup_address",
}


def test_every_key_carries_its_owners_hash_tag_or_is_used_alone() -> None:
    """Every builder of keys.py: its key starts with a tag (``session_tag``,
    ``product_tag``, ...; a ``<family>_…`` builder with its own family's), so all keys of
    one session, product, user or link hash to one slot, the tag's. A new key without a
    tag fails here: give it its owner's tag, or list it in UNTAGGED (and in
    docs/redis-keys.md) if no command or script ever names it with another key."""
    tags = {name.removesuffix("_tag"): _call(getattr(keys, name)) for name in keys.__all__}
    tags = {family: tag for family, tag in tags.items() if f"{family}_tag" in keys.__all__}
    assert {"session", "product", "user"} <= set(tags)
    for name in keys.__all__:
        if name.endswith("_tag") or name in UNTAGGED:
            continue
        key = _call(getattr(keys, name))
        owners = [family for family, tag in tags.items() if key.startswith(tag + ":")]
        assert owners, f"keys.{name}() = {key!r} has no hash tag"
        family = name.split("_", 1)[0]
        if family in tags:
            assert owners == [family], f"keys.{name}() = {key!r} is not under {tags[family]}"
        assert _slot(key) == _slot(tags[owners[0]])
    for name in UNTAGGED:
        assert "{" not in _call(getattr(keys, name))


def test_a_script_refuses_keys_in_two_slots_before_sending_anything() -> None:
    one = [keys.session_seq(1), keys.session_events(1), keys.session_counters(1)]
    lua.check_one_slot(one)
    lua.check_one_slot([keys.product_stock(5)])
    assert _slot(keys.session_seq(1)) != _slot(keys.session_seq(2))
    with pytest.raises(lua.CrossSlotKeys, match="2 cluster slots"):
        lua.check_one_slot([keys.session_seq(1), keys.session_seq(2)])
    with pytest.raises(lua.CrossSlotKeys):
        lua.check_one_slot([keys.product_stock(5), keys.session_pin(5)])


async def test_script_run_checks_the_slots_on_any_client(redis: Redis) -> None:
    script = lua.script(f"test.cluster.{uuid.uuid4().hex}", "return #KEYS")
    with pytest.raises(lua.CrossSlotKeys):
        await script.run(redis, [keys.session_seq(1), keys.product_stock(1)])
    assert await script.run(redis, [keys.session_seq(1), keys.session_pin(1)]) == 2


def test_a_cluster_url_is_accepted_and_a_database_number_is_not() -> None:
    env = {"REDIS_URL": "redis+cluster://10.0.0.5:7000", "SECRET_KEY": "k" * 20}
    assert Settings.from_env(env).redis_url == "redis+cluster://10.0.0.5:7000"
    assert redisclient.is_cluster_url("rediss+cluster://h:1")
    assert not redisclient.is_cluster_url("redis://h:1/0")
    assert redisclient.plain_url("redis+cluster://u:p@h:7000") == "redis://u:p@h:7000"
    with pytest.raises(ValueError, match="database 0 only"):
        redisclient.plain_url("redis+cluster://h:7000/3")
    with pytest.raises(SettingsError, match="redis\\+cluster://"):
        Settings.from_env({**env, "REDIS_URL": "cluster://h:7000"})


def test_the_cluster_command_runs_a_command_against_a_fresh_cluster_and_stops_it(
    tmp_path: Path,
) -> None:
    """What CI's cluster pass does: the command sees REDIS_URL, its exit status is the
    wrapper's, and the masters are gone afterwards."""
    probe = (
        "import os, sys, redis; from livecommerce import redisclient; "
        "url = os.environ['REDIS_URL']; print(url); "
        "c = redis.RedisCluster.from_url(redisclient.plain_url(url)); "
        "print(len(c.get_primaries())); sys.exit(3)"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "livecommerce.valkeycluster",
            "--port",
            "0",
            "--dir",
            str(tmp_path),
            "--",
            sys.executable,
            "-c",
            probe,
        ],
        capture_output=True,
        text=True,
        timeout=seconds(60),
    )
    assert done.returncode == 3, done.stderr
    lines = done.stdout.splitlines()
    url = lines[-2]
    assert redisclient.is_cluster_url(url) and lines[-1] == "3"
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as sock:  # the first master is stopped: its port is free again
        sock.bind(("127.0.0.1", port))


# --- against a real cluster ---


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL", "")
    if redisclient.is_cluster_url(url):
        yield url
        return
    directory: Path = tmp_path_factory.mktemp("cluster")
    with ValkeyCluster(directory, port=0) as cluster:
        yield cluster.url


@pytest.fixture
async def cluster(cluster_url: str) -> AsyncIterator[RedisCluster]:
    client = redisclient.connect(cluster_url)
    found = redisclient.cluster_of(client)
    assert found is not None
    await found.initialize()
    yield found
    await found.aclose()


async def _move_slot(cluster: RedisCluster, slot: int) -> None:
    """Reshard ``slot`` to another master with its keys, as ``valkey-cli --cluster
    reshard`` does: IMPORTING/MIGRATING, MIGRATE the keys, then SETSLOT NODE everywhere."""
    masters = cluster.get_primaries()
    owner = cluster.nodes_manager.get_node_from_slot(slot)
    target = next(n for n in masters if n.name != owner.name)
    ids = {n.name: await cluster.cluster_myid(n) for n in masters}
    await cluster.execute_command(
        "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[owner.name], target_nodes=target
    )
    await cluster.execute_command(
        "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target.name], target_nodes=owner
    )
    names = await cluster.execute_command(
        "CLUSTER", "GETKEYSINSLOT", slot, 1000, target_nodes=owner
    )
    if names:
        await cluster.execute_command(
            "MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *names, target_nodes=owner
        )
    for node in masters:
        await cluster.execute_command(
            "CLUSTER", "SETSLOT", slot, "NODE", ids[target.name], target_nodes=node
        )
    await cluster.nodes_manager.initialize()


def _master_of(cluster: RedisCluster, key: str) -> str:
    node = cluster.get_node_from_key(key)
    assert node is not None
    return str(node.name)


async def test_the_cluster_has_three_masters_with_every_slot(cluster: RedisCluster) -> None:
    info = await cluster.cluster_info()
    assert info["cluster_state"] == "ok" and int(info["cluster_slots_assigned"]) == 16384
    assert len(cluster.get_primaries()) == 3


async def test_the_mux_routes_each_command_and_script_to_its_slots_master(
    cluster: RedisCluster,
) -> None:
    mux = RedisMux.for_client(cluster)
    assert isinstance(mux, ClusterMux)
    try:
        sessions = range(1000, 1030)
        masters = {_master_of(cluster, keys.session_seq(s)) for s in sessions}
        assert len(masters) == 3  # 30 tags land on every master
        script = lua.script(
            f"test.cluster.incr.{uuid.uuid4().hex}",
            "return {redis.call('INCR', KEYS[1]), redis.call('INCR', KEYS[2])}",
        )
        tag = uuid.uuid4().hex
        replies = [
            await script.run(mux, [f"t:{{{tag}{s}}}:a", f"t:{{{tag}{s}}}:b"]) for s in sessions
        ]
        assert replies == [[1, 1]] * len(sessions)  # NOSCRIPT on each master: loaded there
        for s in sessions:
            assert await cluster.get(f"t:{{{tag}{s}}}:a") == b"1"
        assert await mux.execute("SET", f"t:{tag}", "v") == b"OK"
        assert await mux.execute("GET", f"t:{tag}") == b"v"
        assert await mux.execute("PING") == b"PONG"
    finally:
        await mux.aclose()


async def test_the_mux_follows_a_slot_that_moved(cluster: RedisCluster) -> None:
    """Move an empty slot to another master behind the mux's back: its next command
    gets MOVED, the mux learns the new map and the command lands on the new owner."""
    mux = RedisMux.for_client(cluster)
    key = f"t:{{moved-{uuid.uuid4().hex}}}"
    slot = _slot(key)
    assert await mux.execute("SET", key, "before") == b"OK"
    assert await mux.execute("DEL", key) == 1  # the slot is empty: it can simply move
    owner = cluster.get_node_from_key(key)
    assert owner is not None
    target = next(n for n in cluster.get_primaries() if n.name != owner.name)
    ids = {n.name: await cluster.cluster_myid(n) for n in cluster.get_primaries()}
    try:
        for node in cluster.get_primaries():
            await cluster.execute_command(
                "CLUSTER", "SETSLOT", slot, "NODE", ids[target.name], target_nodes=node
            )
        assert await mux.execute("SET", key, "after", "EX", 60) == b"OK"
        direct = Redis(host=target.host, port=int(target.port))
        assert await direct.get(key) == b"after"
        await direct.aclose()
    finally:
        await mux.execute("DEL", key)
        for node in cluster.get_primaries():
            await cluster.execute_command(
                "CLUSTER", "SETSLOT", slot, "NODE", ids[owner.name], target_nodes=node
            )
        await cluster.nodes_manager.initialize()
        await mux.aclose()


async def test_the_mux_follows_ask_while_a_slot_migrates(cluster: RedisCluster) -> None:
    """A slot half-way to another master: a key the old owner no longer has is asked
    for on the new one (ASK → ASKING + the command there)."""
    mux = RedisMux.for_client(cluster)
    key = f"t:{{ask-{uuid.uuid4().hex}}}"
    slot = _slot(key)
    owner = cluster.get_node_from_key(key)
    assert owner is not None
    target = next(n for n in cluster.get_primaries() if n.name != owner.name)
    ids = {n.name: await cluster.cluster_myid(n) for n in cluster.get_primaries()}
    await cluster.execute_command(
        "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[owner.name], target_nodes=target
    )
    await cluster.execute_command(
        "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target.name], target_nodes=owner
    )
    try:
        assert await mux.execute("SET", key, "asked", "EX", 60) == b"OK"
        direct = Redis(host=target.host, port=int(target.port))
        async with direct.pipeline(transaction=False) as pipe:  # one connection
            pipe.execute_command("ASKING")
            pipe.get(key)
            assert (await pipe.execute())[1] == b"asked"  # it is on the new owner
        await direct.aclose()
        assert await mux.execute("GET", key) == b"asked"
        assert await mux.execute("DEL", key) == 1
    finally:
        for node in (owner, target):
            await cluster.execute_command("CLUSTER", "SETSLOT", slot, "STABLE", target_nodes=node)
        await mux.aclose()


async def _lose_the_connection_of(mux: RedisMux, cluster: RedisCluster, key: str) -> None:
    """Kill the mux's connection to ``key``'s master under a command in flight, which
    fails with ConnectionError (and starts the mux's refresh of the slot map)."""
    node = cluster.get_node_from_key(key)
    assert node is not None
    in_flight = asyncio.ensure_future(mux.execute("BLPOP", key, "10"))
    blocked: list[int] = []
    async with asyncio.timeout(seconds(5)):
        while not blocked:  # until the master shows our BLPOP waiting
            clients = await cluster.client_list(target_nodes=node)
            blocked = [int(c["id"]) for c in clients if c.get("cmd") == "blpop"]
    await cluster.execute_command("CLIENT", "KILL", "ID", blocked[0], target_nodes=node)
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(in_flight, seconds(5))


async def test_a_lost_master_connection_fails_what_was_in_flight_then_reconnects(
    cluster: RedisCluster,
) -> None:
    mux = RedisMux.for_client(cluster)
    key = f"t:{{lost-{uuid.uuid4().hex}}}"
    try:
        await _lose_the_connection_of(mux, cluster, key)
        assert await mux.execute("SET", key, "again", "EX", 60) == b"OK"
        assert await cluster.get(key) == b"again"
    finally:
        await mux.aclose()


async def test_closing_the_mux_ends_its_refresh_of_the_slot_map(cluster: RedisCluster) -> None:
    """aclose() right after a lost connection, its slot-map refresh still running: that
    refresh has ended when aclose() returns. Only cancelled, it went on (redis-py's
    initialize() swallowed the cancellation and tried its next startup node) and opened
    a connection after the cluster client had closed: a socket left to the garbage
    collector, seen as 'ResourceWarning: unclosed socket' in a later test."""
    mux = RedisMux.for_client(cluster)
    await _lose_the_connection_of(mux, cluster, f"t:{{lost-{uuid.uuid4().hex}}}")
    await mux.aclose()
    running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert running == []


async def test_a_server_on_the_cluster_fans_out_and_sells(
    cluster_url: str, cluster: RedisCluster, settings: Settings, db: Database
) -> None:
    """The whole app on the cluster: redis-py's cluster client and the per-master mux;
    shows on different masters each reach their viewers (one stream reader per
    session); a buy runs the stock scripts on the product's master; a session whose
    slot moves to another master (keys and all) keeps reaching its viewers."""
    server = ServerThread(settings.with_(redis_url=cluster_url)).start()
    headers = {"X-Forwarded-For": random_address()}
    try:
        hub = server.component(Hub)
        cart = server.component(CartComponent)
        assert redisclient.cluster_of(hub.fanout.redis) is not None
        assert isinstance(cart.checkout.mux, ClusterMux)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=headers) as c:
            actors = Actors(c, db)
            shows: list[dict[str, Any]] = []
            products: list[dict[str, Any]] = []
            while len({_master_of(cluster, keys.session_tag(s["id"])) for s in shows}) < 2:
                assert len(shows) < 12, "twelve sessions on one master"
                products.append(await actors.product(stock=5, price=1500))
                shows.append(await actors.show(product_ids=[products[-1]["id"]], live=True))
            viewers = [await HubClient.open(server.url) for _ in shows]
            hosts = [await HubClient.open(server.url, token=s["host"]["token"]) for s in shows]
            try:
                for viewer, show in zip(viewers, shows, strict=True):
                    await viewer.join(show["id"])
                for host, show, product in zip(hosts, shows, products, strict=True):
                    reply = await host.request("pin", session=show["id"], product_id=product["id"])
                    assert reply["type"] == "ack", reply
                for viewer, show in zip(viewers, shows, strict=True):
                    pinned = await viewer.wait(lambda f: f["type"] == "pinned")
                    assert pinned["session"] == show["id"]
                user = await buyer(actors)
                r = await buy(c, user, products[0], quantity=2, session_id=shows[0]["id"])
                assert r.status_code == 201, r.text
                stock = await cluster.hgetall(keys.product_stock(products[0]["id"]))
                assert sum(int(v) for v in stock.values()) == 3
                moved = shows[0]["id"]
                before = _master_of(cluster, keys.session_tag(moved))
                await _move_slot(cluster, _slot(keys.session_tag(moved)))
                assert _master_of(cluster, keys.session_tag(moved)) != before
                reply = await hosts[0].request("unpin", session=moved)
                assert reply["type"] == "ack", reply
                unpinned = await viewers[0].wait(lambda f: f["type"] == "unpinned", timeout=15)
                assert unpinned["session"] == moved
            finally:
                for ws in (*viewers, *hosts):
                    await ws.close()
    finally:
        server.stop()
