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

__all__ = ["publish"]

# KEYS: seq, events. ARGV: event JSON without seq (an object), maxlen.
# The seq is spliced into the JSON text so the stored bytes are exactly what
# viewers receive: each hub serializes nothing, it forwards.
_PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
local body = ARGV[1]
local event = '{"seq":' .. seq .. ',' .. string.sub(body, 2)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', event)
return seq
"""


async def publish(
    redis: Redis, session_id: int, event: dict[str, Any], *, maxlen: int = 1000
) -> int:
    """Append ``event`` (must have ``type``; gets ``seq`` and ``session``) and return its seq."""
    body = encoding.dumps({"session": session_id, **event})
    seq = await redis.eval(
        _PUBLISH, 2, keys.session_seq(session_id), keys.session_events(session_id), body, maxlen
    )
    return int(seq)
