"""Viewer counts and reaction totals, aggregated across hub processes through Redis.

Each process reports its local viewer count per session about once a second
(``keys.session_presence``: process → ``count:ms``); in the same script, the
one process that takes the second's lock (``keys.session_viewers_tick``) sums
the fresh reports and, if the total changed, publishes a ``viewers`` event
(through :func:`~livecommerce.sessionfeed.publish`, like every event), so viewers
get at most one count per second however many processes serve them.
Counters for dashboards (``keys.session_counters``) are kept on the way.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter, defaultdict

from redis.asyncio import Redis

from livecommerce import keys
from livecommerce.lua import script
from livecommerce.sessionfeed import publish

__all__ = ["Presence"]

# KEYS: presence hash, tick lock, counters.
# ARGV: process id, local count, now ms, stale after ms, tick ms.
# Returns -1 (another process has this tick), or the total if unchanged, or
# -2 - total if it changed (the caller publishes it).
_REPORT = script(
    "hub.presence_report",
    """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], 60000)
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[5]) then
  return -1
end
local now = tonumber(ARGV[3])
local total = 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local count, at = string.match(entries[i + 1], '^(%d+):(%d+)$')
  if count and now - tonumber(at) <= tonumber(ARGV[4]) then
    total = total + tonumber(count)
  elseif count then
    redis.call('HDEL', KEYS[1], entries[i])
  end
end
local last = tonumber(redis.call('HGET', KEYS[3], 'viewers_now') or '-1')
if total == last then
  return total
end
redis.call('HSET', KEYS[3], 'viewers_now', total)
local peak = tonumber(redis.call('HGET', KEYS[3], 'viewers_peak') or '0')
if total > peak then
  redis.call('HSET', KEYS[3], 'viewers_peak', total)
end
return -2 - total
""",
)


class Presence:
    """This process's share of viewer counts and reactions. :meth:`report` and
    :meth:`flush_reactions` are called periodically by the hub."""

    def __init__(self, redis: Redis, *, maxlen: int, tick_ms: int = 1000) -> None:
        self.redis = redis
        self.maxlen = maxlen
        self.tick_ms = tick_ms
        self.process_id = secrets.token_hex(6)
        self.local: dict[int, int] = {}
        self._reported: dict[int, int] = {}
        self._reactions: defaultdict[int, Counter[str]] = defaultdict(Counter)
        self._uniques: defaultdict[int, set[str]] = defaultdict(set)

    def set_local(self, session_id: int, count: int) -> None:
        self.local[session_id] = count

    def joined(self, session_id: int, who: str) -> None:
        """Count a viewer towards the session's unique viewers (sent with the next report:
        a join storm costs one PFADD per session per second, not one per join)."""
        self._uniques[session_id].add(who)

    def react(self, session_id: int, kind: str) -> None:
        self._reactions[session_id][kind] += 1

    async def report(self) -> None:
        """Report local counts (including the zero of a session just left)."""
        now_ms = int(time.time() * 1000)
        uniques, self._uniques = self._uniques, defaultdict(set)
        for session_id, members in uniques.items():
            await self.redis.pfadd(keys.session_uniques(session_id), *members)
        sessions = set(self.local) | {s for s, c in self._reported.items() if c}
        for session_id in sessions:
            count = self.local.get(session_id, 0)
            outcome = int(
                await _REPORT.run(
                    self.redis,
                    [
                        keys.session_presence(session_id),
                        keys.session_viewers_tick(session_id),
                        keys.session_counters(session_id),
                    ],
                    [self.process_id, count, now_ms, 3 * self.tick_ms, self.tick_ms - 50],
                )
            )
            if outcome <= -2:  # this process holds the tick's lock: no other publishes now
                await publish(
                    self.redis,
                    session_id,
                    {"type": "viewers", "count": -2 - outcome},
                    maxlen=self.maxlen,
                )
            self._reported[session_id] = count
            if count == 0:
                self.local.pop(session_id, None)
                self._reported.pop(session_id, None)

    async def flush_reactions(self) -> None:
        """Publish one ``reactions`` event per session with what this process counted."""
        pending, self._reactions = self._reactions, defaultdict(Counter)
        for session_id, counts in pending.items():
            await publish(
                self.redis,
                session_id,
                {"type": "reactions", "counts": dict(counts)},
                maxlen=self.maxlen,
            )
            await self.redis.hincrby(
                keys.session_counters(session_id), "reactions", sum(counts.values())
            )

    async def withdraw(self) -> None:
        """On shutdown: remove this process's reports."""
        for session_id in set(self.local) | set(self._reported):
            await self.redis.hdel(keys.session_presence(session_id), self.process_id)
