"""Presence against the real Valkey/Redis: the viewers event goes through publish."""

from __future__ import annotations

import random

from redis.asyncio import Redis

from livecommerce import encoding, keys
from livecommerce.hub.presence import Presence


async def test_one_viewers_event_per_change_summed_across_processes(redis: Redis) -> None:
    session_id = random.randint(10**8, 10**9)
    a, b = Presence(redis, maxlen=100), Presence(redis, maxlen=100)
    a.set_local(session_id, 3)
    b.set_local(session_id, 2)
    await b.report()  # takes the tick's lock: publishes b's 2
    await redis.delete(keys.session_viewers_tick(session_id))  # the next second
    await a.report()  # 3 + 2
    await redis.delete(keys.session_viewers_tick(session_id))
    await a.report()  # unchanged: no event
    await b.report()  # the tick is a's: b publishes nothing
    entries = await redis.xrange(keys.session_events(session_id))
    events = [encoding.loads(fields[b"e"]) for _, fields in entries]
    assert events == [
        {"seq": 1, "session": session_id, "type": "viewers", "count": 2},
        {"seq": 2, "session": session_id, "type": "viewers", "count": 5},
    ]
    assert [entry_id for entry_id, _ in entries] == [b"1-0", b"2-0"]
    counters = await redis.hgetall(keys.session_counters(session_id))
    assert counters[b"viewers_now"] == b"5" and counters[b"viewers_peak"] == b"5"
