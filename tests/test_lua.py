"""The Lua registry against the real Valkey/Redis: EVALSHA on both clients, NOSCRIPT."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from livecommerce import lua
from livecommerce.redismux import RedisMux


@pytest.fixture
async def mux(redis: Redis) -> AsyncIterator[RedisMux]:
    m = RedisMux.for_client(redis)
    yield m
    await m.aclose()


def fresh(name: str) -> lua.Script:
    # a unique source, so the server has never seen this SHA1
    return lua.script(
        f"test.{name}.{uuid.uuid4().hex}",
        f"-- {uuid.uuid4().hex}\nreturn {{KEYS[1], tonumber(ARGV[1]) + 1}}",
    )


@pytest.mark.parametrize("client_kind", ["mux", "redis"])
async def test_a_script_loads_itself_on_a_server_that_lacks_it(
    client_kind: str, mux: RedisMux, redis: Redis
) -> None:
    script = fresh(client_kind)
    client = mux if client_kind == "mux" else redis
    assert (await redis.script_exists(script.sha)) == [False]
    k = f"test:lua:{uuid.uuid4().hex}"
    assert await script.run(client, [k], [1]) == [k.encode(), 2]
    assert (await redis.script_exists(script.sha)) == [True]
    await redis.script_flush()  # a restarted server: the next run loads it again
    assert await script.run(client, [k], [41]) == [k.encode(), 42]


async def test_script_errors_are_redis_errors_on_both_clients(mux: RedisMux, redis: Redis) -> None:
    script = lua.script(f"test.fails.{uuid.uuid4().hex}", "return redis.error_reply('nope')")
    for client in (mux, redis):
        with pytest.raises(ResponseError, match="nope"):
            await script.run(client, [], [])


def test_one_name_one_script() -> None:
    first = lua.script("test.same-name", "return 1")
    assert lua.script("test.same-name", "return 1") is first
    with pytest.raises(ValueError, match="two different Lua scripts"):
        lua.script("test.same-name", "return 2")


def test_every_script_of_the_project_is_in_the_registry() -> None:
    import cart.stock  # noqa: F401
    import livecommerce.hub.presence  # noqa: F401
    import livecommerce.moderation.state  # noqa: F401
    import livecommerce.sessionfeed  # noqa: F401

    names = set(lua.registry())
    assert {"cart.reserve", "cart.claim", "feed.publish", "hub.presence_report"} <= names
    assert "moderation.forget_chat" in names
