"""Chat moderation state of a session, kept in Redis: mutes, bans, slow mode,
blocked words, and message deletion.

The hub calls :func:`check_chat` before it publishes a chat message, from
whichever process serves the user; so this state lives in Redis
(``keys.session_muted``: user → until ms, ``keys.session_banned``: set,
``keys.session_moderation``: the rules hash, ``keys.session_chat_slow``: one
short key per user in slow mode). :mod:`livecommerce.moderation.actions` calls
these functions and writes the SQL audit log itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from livecommerce import encoding, keys
from livecommerce.errors import Forbidden, TooManyRequests
from livecommerce.lua import script
from livecommerce.sessionfeed import publish

__all__ = [
    "ChatRules",
    "ban",
    "banned_users",
    "check_chat",
    "chat_rules",
    "delete_chat_message",
    "forget_chat_message",
    "muted_users",
    "set_blocked_words",
    "set_slow_mode",
    "is_banned",
    "mute",
    "unban",
    "unmute",
]


async def mute(redis: Redis, session_id: int, user_id: int, *, until_ms: int) -> None:
    """Refuse ``user_id``'s chat messages until ``until_ms`` (unix ms)."""
    await redis.zadd(keys.session_muted(session_id), {str(user_id): until_ms})


async def unmute(redis: Redis, session_id: int, user_id: int) -> None:
    await redis.zrem(keys.session_muted(session_id), str(user_id))


async def ban(redis: Redis, session_id: int, user_id: int, *, maxlen: int = 1000) -> int:
    """Remove ``user_id`` from the session for good (until :func:`unban`): its chat and
    joins are refused, and the ``user_banned`` event (returns its seq) makes every hub
    process close the user's connections to the session."""
    await redis.sadd(keys.session_banned(session_id), str(user_id))
    return await publish(
        redis, session_id, {"type": "user_banned", "user_id": user_id}, maxlen=maxlen
    )


async def unban(redis: Redis, session_id: int, user_id: int) -> None:
    await redis.srem(keys.session_banned(session_id), str(user_id))


async def is_banned(redis: Redis, session_id: int, user_id: int) -> bool:
    """Whether ``user_id`` is banned from the session (the hub refuses its ``join``)."""
    return bool(await redis.sismember(keys.session_banned(session_id), str(user_id)))


async def banned_users(redis: Redis, session_id: int) -> set[int]:
    return {int(u) for u in await redis.smembers(keys.session_banned(session_id))}


# KEYS: recent chat list. ARGV: the message id as it appears in the JSON.
_FORGET = script(
    "moderation.forget_chat",
    """
local needle = '"message_id":"' .. ARGV[1] .. '"'
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.find(item, needle, 1, true) then
    redis.call('LREM', KEYS[1], 1, item)
    return item
  end
end
return false
""",
)


async def delete_chat_message(
    redis: Redis, session_id: int, message_id: str, *, maxlen: int = 1000
) -> int:
    """Drop the message from snapshots' recent chat and publish ``chat_deleted``; returns its
    seq. Viewers who already saw the message hide it on that event."""
    await forget_chat_message(redis, session_id, message_id)
    return await publish(
        redis, session_id, {"type": "chat_deleted", "message_id": message_id}, maxlen=maxlen
    )


async def forget_chat_message(
    redis: Redis, session_id: int, message_id: str
) -> dict[str, Any] | None:
    """Drop the message from the recent chat list; returns the event it was (to learn its
    author), or None if it is no longer there (old, or already deleted)."""
    item = await _FORGET.run(redis, [keys.session_chat(session_id)], [message_id])
    if not item:
        return None
    event: dict[str, Any] = encoding.loads(item)
    return event


async def muted_users(redis: Redis, session_id: int, *, now_ms: int) -> dict[int, int]:
    """User id → unix ms the mute ends, for mutes still running."""
    raw: list[Any] = await redis.zrangebyscore(
        keys.session_muted(session_id), now_ms + 1, "+inf", withscores=True
    )
    return {int(u): int(until) for u, until in raw}


# --- chat rules: slow mode and blocked words ------------------------------------


@dataclass(frozen=True)
class ChatRules:
    slow_mode_s: int = 0
    blocked_words: tuple[str, ...] = ()


def _rules(raw: dict[Any, Any]) -> ChatRules:
    slow = int(raw.get(b"slow_mode_s") or 0)
    words = raw.get(b"blocked_words")
    return ChatRules(slow, tuple(encoding.loads(words)) if words else ())


async def chat_rules(redis: Redis, session_id: int) -> ChatRules:
    return _rules(await redis.hgetall(keys.session_moderation(session_id)))


async def set_slow_mode(redis: Redis, session_id: int, seconds: int) -> None:
    """One message per ``seconds`` per user from now on; 0 turns slow mode off."""
    await redis.hset(keys.session_moderation(session_id), "slow_mode_s", max(0, seconds))


def normalize_words(words: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased, stripped, de-duplicated, sorted; empty entries dropped."""
    return tuple(sorted({w.strip().lower() for w in words if w.strip()}))


async def set_blocked_words(redis: Redis, session_id: int, words: Iterable[str]) -> tuple[str, ...]:
    """Replace the session's blocked-word list; returns it as stored."""
    clean = normalize_words(words)
    await redis.hset(
        keys.session_moderation(session_id), "blocked_words", encoding.dumps(list(clean))
    )
    return clean


@functools.lru_cache(maxsize=256)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # Whole words (or phrases) only: blocking "ass" must not refuse "class".
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


def blocked_word_in(text: str, words: tuple[str, ...]) -> str | None:
    """The first blocked word ``text`` contains (case-insensitive, whole words), or None."""
    if not words:
        return None
    match = _pattern(words).search(text.lower())
    return match.group(0) if match else None


async def check_chat(
    redis: Redis, session_id: int, user_id: int, *, text: str, now_ms: int
) -> None:
    """Raise if ``user_id`` may not post ``text`` now: banned or muted (403 ``banned`` /
    ``muted``), a blocked word (403 ``blocked_word``), slow mode (429 ``slow_mode``).
    The hub calls it before publishing; the error goes back to the sender only. When it
    passes in slow mode, the user's next message waits ``slow_mode_s``."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.sismember(keys.session_banned(session_id), str(user_id))
        pipe.zscore(keys.session_muted(session_id), str(user_id))
        pipe.hgetall(keys.session_moderation(session_id))
        banned, until, raw_rules = await pipe.execute()
    if banned:
        raise Forbidden("you are banned from this show's chat", code="banned")
    if until is not None and until > now_ms:
        left = max(1, round((until - now_ms) / 60000))
        raise Forbidden(
            f"you are muted in this show's chat for about {left} more minute(s)", code="muted"
        )
    rules = _rules(raw_rules)
    word = blocked_word_in(text, rules.blocked_words)
    if word is not None:
        raise Forbidden(
            f"your message was not sent: {word!r} is not allowed in this chat",
            code="blocked_word",
        )
    if rules.slow_mode_s > 0:
        key = keys.session_chat_slow(session_id, user_id)
        if not await redis.set(key, b"1", nx=True, px=rules.slow_mode_s * 1000):
            wait_ms = await redis.pttl(key)
            raise TooManyRequests(
                f"slow mode: one message every {rules.slow_mode_s} s; "
                f"try again in {max(1, -(-wait_ms // 1000))} s",
                code="slow_mode",
            )
