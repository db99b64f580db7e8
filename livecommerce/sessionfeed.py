"""Append one event to a live session's stream with a gap-free ``seq``.

Any process may publish (the hub, the cart's stock updates, a worker): one Lua
script increments the session's ``seq`` and appends the event to its stream
with entry id ``<seq>-0``, so the order of ``seq`` is the order of the stream
and there is no gap, whatever the number of publishers.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from livecommerce import encoding, keys
from livecommerce.lua import script

__all__ = ["publish"]

# KEYS: seq, events, recent chat list, counters hash (all one hash slot).
# ARGV: event JSON without seq (an object), maxlen, recent size (0: none),
#       counter field ('': none).
# The seq is spliced into the JSON text so the stored bytes are exactly what
# viewers receive: each hub serializes nothing, it forwards. The recent list
# (chat history for snapshots) and the counter change in the same script, so a
# snapshot never sees a seq without the message that produced it.
_PUBLISH = script(
    "feed.publish",
    """
local seq = redis.call('INCR', KEYS[1])
local body = ARGV[1]
local event = '{"seq":' .. seq .. ',' .. string.sub(body, 2)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', event)
local keep = tonumber(ARGV[3])
if keep > 0 then
  redis.call('LPUSH', KEYS[3], event)
  redis.call('LTRIM', KEYS[3], 0, keep - 1)
end
if ARGV[4] ~= '' then
  redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
end
return seq
""",
)


async def publish(
    redis: Redis,
    session_id: int,
    event: dict[str, Any],
    *,
    maxlen: int = 1000,
    keep_recent: int = 0,
    count: str | None = None,
) -> int:
    """Append ``event`` (must have ``type``; gets ``seq`` and ``session``) and return its seq.

    ``keep_recent`` > 0 also pushes the event on the session's recent-chat list
    (``keys.session_chat``), trimmed to that many; ``count`` increments that field
    of the session's counters hash (``keys.session_counters``).
    """
    body = encoding.dumps({"session": session_id, **event})
    seq = await _PUBLISH.run(
        redis,
        [
            keys.session_seq(session_id),
            keys.session_events(session_id),
            keys.session_chat(session_id),
            keys.session_counters(session_id),
        ],
        [body, maxlen, keep_recent, count or ""],
    )
    return int(seq)
