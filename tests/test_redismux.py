"""RedisMux against the real Valkey/Redis: order, errors, lost connections."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from livecommerce.redisclient import is_cluster_url
from livecommerce.redismux import RedisMux
from livecommerce.settings import Settings

#: Tests of one server's connection (its database, its set-up, killing it by id); on a
#: cluster the mux is one such connection per master (tests/test_cluster.py).
single_server = pytest.mark.skipif(
    is_cluster_url(os.environ.get("REDIS_URL", "")), reason="one server's connection"
)


@pytest.fixture
async def mux(redis: Redis) -> AsyncIterator[RedisMux]:
    m = RedisMux.for_client(redis)
    yield m
    await m.aclose()


def key(name: str) -> str:
    return f"test:mux:{uuid.uuid4().hex}:{name}"


async def test_concurrent_commands_each_get_their_own_reply(mux: RedisMux, redis: Redis) -> None:
    k = key("counter")
    # 500 commands issued in one loop iteration share writes; each caller must still
    # get the reply to its own command (INCR returns 1..500 once each; ECHO its own).
    replies = await asyncio.gather(*(mux.execute("INCR", k) for _ in range(500)))
    assert sorted(replies) == list(range(1, 501))
    echoes = await asyncio.gather(*(mux.execute("ECHO", f"n{i}") for i in range(500)))
    assert echoes == [f"n{i}".encode() for i in range(500)]
    assert int(await redis.get(k)) == 500
    assert await mux.execute("SET", k, b"\x00bytes\xff", "EX", 60) == b"OK"
    assert await mux.execute("GET", k) == b"\x00bytes\xff"
    assert await mux.execute("GET", key("missing")) is None


async def test_an_error_fails_only_its_own_command(mux: RedisMux) -> None:
    k = key("hash")
    await mux.execute("HSET", k, "f", "v")
    bad, good = await asyncio.gather(
        mux.execute("INCR", k), mux.execute("HGET", k, "f"), return_exceptions=True
    )
    assert isinstance(bad, ResponseError) and "WRONGTYPE" in str(bad)
    assert good == b"v"


async def test_a_cancelled_caller_does_not_shift_the_replies(mux: RedisMux) -> None:
    k = key("v")
    await mux.execute("SET", k, "value")
    # BLPOP on an empty list: a command whose reply comes 50 ms later
    slow = asyncio.ensure_future(mux.execute("BLPOP", key("empty"), "0.05"))
    following = asyncio.ensure_future(mux.execute("GET", k))
    await asyncio.sleep(0)  # both are queued; cancel the first before its reply
    slow.cancel()
    assert await following == b"value"
    assert await mux.execute("GET", k) == b"value"


@single_server
async def test_a_lost_connection_fails_what_was_in_flight_and_then_reconnects(
    mux: RedisMux, redis: Redis
) -> None:
    k = key("after")
    mux_id = await mux.execute("CLIENT", "ID")
    in_flight = asyncio.ensure_future(mux.execute("BLPOP", key("empty"), "5"))
    await asyncio.sleep(0.05)  # the BLPOP is waiting on the server
    assert await redis.client_kill_filter(_id=mux_id) == 1
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(in_flight, 5)
    assert await mux.execute("SET", k, "1") == b"OK"  # a new connection
    assert await redis.get(k) == b"1"


@single_server
async def test_it_uses_the_clients_database(settings: Settings) -> None:
    assert settings.redis_url is not None
    other_db = Redis.from_url(settings.redis_url, db=14)
    m = RedisMux.for_client(other_db)
    k = key("db")
    try:
        await m.execute("SET", k, "in-14", "EX", 60)
        assert await other_db.get(k) == b"in-14"
    finally:
        await other_db.delete(k)
        await m.aclose()
        await other_db.aclose()


async def test_a_closed_mux_refuses_commands(redis: Redis) -> None:
    m = RedisMux.for_client(redis)
    assert await m.execute("PING") == b"PONG"
    await m.aclose()
    with pytest.raises(RedisConnectionError):
        await m.execute("PING")


@single_server
async def test_a_refused_set_up_fails_the_command_and_is_retried_next_time(redis: Redis) -> None:
    m = RedisMux.for_client(redis)
    m.db = 100_000  # no such database: SELECT fails
    try:
        with pytest.raises(RedisConnectionError, match="set-up"):
            await m.execute("PING")
        m.db = 0
        assert await m.execute("PING") == b"PONG"  # a fresh connection, set up right
    finally:
        await m.aclose()
