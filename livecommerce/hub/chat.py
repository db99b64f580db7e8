"""Chat messages and reactions: checks, limits, publishing.

Chat is per user (not per connection): the rate limit and mute/ban live in
Redis so they hold whichever hub process serves the user. Reactions are
counted in process and published as one aggregated ``reactions`` event per
window (see :class:`livecommerce.hub.presence.Presence`).
"""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

from livecommerce import keys
from livecommerce.errors import TooManyRequests, ValidationFailed
from livecommerce.hub.protocol import REACTION_KINDS
from livecommerce.moderation.state import check_chat
from livecommerce.sessionfeed import publish
from livecommerce.settings import Settings

__all__ = ["check_reaction", "new_message_id", "send_chat"]


def new_message_id() -> str:
    """A stable, unique chat message id (what ``chat_deleted`` names)."""
    return secrets.token_hex(8)


async def send_chat(
    redis: Redis,
    settings: Settings,
    *,
    session_id: int,
    user_id: int,
    name: str,
    text: object,
    now_ms: int,
) -> tuple[str, int]:
    """Publish a chat message; returns ``(message_id, seq)``. Refuses empty or long text
    (422), banned or muted users and blocked words (403 ``banned``/``muted``/``blocked_word``),
    slow mode (429 ``slow_mode``) and bursts (429)."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed("text: a chat message needs some text")
    text = text.strip()
    if len(text) > settings.hub_chat_max_len:
        raise ValidationFailed(
            f"text: chat messages are limited to {settings.hub_chat_max_len} characters",
            code="too_long",
        )
    # Ban, mute, blocked words and slow mode (livecommerce.moderation owns the rules).
    await check_chat(redis, session_id, user_id, text=text, now_ms=now_ms)
    rate_key = keys.session_chat_rate(session_id, user_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(rate_key)
        pipe.pexpire(rate_key, int(settings.hub_chat_window_s * 1000), nx=True)
        sent, _ = await pipe.execute()
    if int(sent) > settings.hub_chat_rate:
        raise TooManyRequests(
            f"at most {settings.hub_chat_rate} messages per {settings.hub_chat_window_s:g} s",
            code="chat_rate_limited",
        )
    message_id = new_message_id()
    seq = await publish(
        redis,
        session_id,
        {
            "type": "chat",
            "message_id": message_id,
            "user_id": user_id,
            "name": name,
            "text": text,
            "ts": now_ms,
        },
        maxlen=settings.hub_stream_maxlen,
        keep_recent=settings.hub_recent_chat,
        count="chat_messages",
    )
    return message_id, seq


def check_reaction(kind: object) -> str:
    if kind not in REACTION_KINDS:
        raise ValidationFailed(f"kind: one of {sorted(REACTION_KINDS)}")
    return str(kind)
