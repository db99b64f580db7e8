"""Mute, ban and message deletion state of a session's chat, kept in Redis.

The hub asks :func:`chat_refusal` before it publishes a chat message, from
whichever process serves the user; so this state lives in Redis
(``keys.session_muted``: user → until ms, ``keys.session_banned``: set). The
moderation API (dashboard issue) calls these functions and writes the SQL
audit log itself.
"""

from __future__ import annotations

from redis.asyncio import Redis

from livecommerce import keys
from livecommerce.hub.publish import publish

__all__ = [
    "ban",
    "banned_users",
    "chat_refusal",
    "delete_chat_message",
    "is_banned",
    "is_muted",
    "mute",
    "unban",
    "unmute",
]


async def mute(redis: Redis, session_id: int, user_id: int, *, until_ms: int) -> None:
    """Refuse ``user_id``'s chat messages until ``until_ms`` (unix ms)."""
    await redis.zadd(keys.session_muted(session_id), {str(user_id): until_ms})


async def unmute(redis: Redis, session_id: int, user_id: int) -> None:
    await redis.zrem(keys.session_muted(session_id), str(user_id))


async def is_muted(redis: Redis, session_id: int, user_id: int, *, now_ms: int) -> bool:
    until = await redis.zscore(keys.session_muted(session_id), str(user_id))
    return until is not None and until > now_ms


async def ban(redis: Redis, session_id: int, user_id: int) -> None:
    """Refuse ``user_id``'s chat in this session for good (until :func:`unban`)."""
    await redis.sadd(keys.session_banned(session_id), str(user_id))


async def unban(redis: Redis, session_id: int, user_id: int) -> None:
    await redis.srem(keys.session_banned(session_id), str(user_id))


async def is_banned(redis: Redis, session_id: int, user_id: int) -> bool:
    return bool(await redis.sismember(keys.session_banned(session_id), str(user_id)))


async def banned_users(redis: Redis, session_id: int) -> set[int]:
    return {int(u) for u in await redis.smembers(keys.session_banned(session_id))}


async def chat_refusal(redis: Redis, session_id: int, user_id: int, *, now_ms: int) -> str | None:
    """``"banned"``, ``"muted"`` or None (may chat), in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.sismember(keys.session_banned(session_id), str(user_id))
        pipe.zscore(keys.session_muted(session_id), str(user_id))
        banned, until = await pipe.execute()
    if banned:
        return "banned"
    if until is not None and until > now_ms:
        return "muted"
    return None


# KEYS: recent chat list. ARGV: the message id as it appears in the JSON.
_FORGET = """
local needle = '"message_id":"' .. ARGV[1] .. '"'
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.find(item, needle, 1, true) then
    redis.call('LREM', KEYS[1], 1, item)
    return 1
  end
end
return 0
"""


async def delete_chat_message(
    redis: Redis, session_id: int, message_id: str, *, maxlen: int = 1000
) -> int:
    """Drop the message from snapshots' recent chat and publish ``chat_deleted``; returns its
    seq. Viewers who already saw the message hide it on that event."""
    await redis.eval(_FORGET, 1, keys.session_chat(session_id), message_id)
    return await publish(
        redis, session_id, {"type": "chat_deleted", "message_id": message_id}, maxlen=maxlen
    )
