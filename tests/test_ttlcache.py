"""TtlCache: single flight, expiry by the clock, the cap, failures not kept."""

from __future__ import annotations

import asyncio

import pytest

from livecommerce.ttlcache import TtlCache


async def test_concurrent_misses_share_one_load_until_the_value_expires() -> None:
    now = [0.0]
    loads: list[int] = []
    gate = asyncio.Event()

    async def load(key: int) -> str:
        loads.append(key)
        await gate.wait()
        return f"v{key}:{len(loads)}"

    cache: TtlCache[int, str] = TtlCache(load, ttl_s=1.0, clock=lambda: now[0])
    waiting = [asyncio.ensure_future(cache.get(1)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert set(await asyncio.gather(*waiting)) == {"v1:1"} and loads == [1]
    now[0] = 0.9
    assert await cache.get(1) == "v1:1"
    now[0] = 1.1  # expired: loaded again
    assert await cache.get(1) == "v1:2"
    cache.forget(1)
    assert await cache.get(1) == "v1:3"


async def test_a_failed_load_is_not_kept_and_the_cap_empties_the_cache() -> None:
    calls = 0

    async def load(key: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database restarting")
        return key * 10

    cache: TtlCache[int, int] = TtlCache(load, ttl_s=60, max_entries=3)
    with pytest.raises(RuntimeError):
        await cache.get(1)
    assert await cache.get(1) == 10  # the failure was not cached
    for key in (2, 3):
        await cache.get(key)
    assert len(cache) == 3
    await cache.get(4)  # past the cap: emptied, then this one kept
    assert len(cache) == 1
