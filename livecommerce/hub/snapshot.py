"""What a joining viewer is sent first: a snapshot, or exactly the events it missed.

The Redis parts of a snapshot (seq, pin, status, recent chat, viewer count)
are read in one MULTI so they agree with each other: the snapshot is the
state *at* its ``seq``, and live events after that seq follow it.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from livecommerce import encoding, keys
from livecommerce.db.engine import Database
from livecommerce.db.models import LiveSession, SessionStatus
from livecommerce.errors import NotFound
from livecommerce.hub.cards import CardCache, pinned_view
from livecommerce.pinstate import parse_pin

__all__ = ["missed_events", "session_status", "snapshot"]


async def session_status(redis: Redis, db: Database, session_id: int) -> str:
    """The session's status, from its Redis mirror or SQL (404 if no such session).
    SQL is asked once per session; the hub keeps the mirror current on state changes."""
    raw = await redis.get(keys.session_status(session_id))
    if raw is None:
        async with db.sessions() as session:
            row = await session.get(LiveSession, session_id)
            status = SessionStatus.DELETED.value if row is None else str(row.status)
        if row is not None:
            await redis.set(keys.session_status(session_id), status, nx=True)
    else:
        status = raw.decode() if isinstance(raw, bytes) else str(raw)
    if status == SessionStatus.DELETED:
        raise NotFound(f"live session {session_id} does not exist")
    return status


async def snapshot(
    redis: Redis, db: Database, cards: CardCache, session_id: int, *, recent_chat: int
) -> dict[str, Any]:
    """The whole current state of a session, as the ``snapshot`` frame."""
    status = await session_status(redis, db, session_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.get(keys.session_seq(session_id))
        pipe.get(keys.session_pin(session_id))
        pipe.get(keys.session_status(session_id))
        pipe.lrange(keys.session_chat(session_id), 0, recent_chat - 1)
        pipe.hget(keys.session_counters(session_id), "viewers_now")
        seq, pin_raw, status_raw, chat_raw, viewers = await pipe.execute()
    pin = parse_pin(pin_raw)
    pinned = None if pin is None else await pinned_view(redis, cards, pin)
    return {
        "type": "snapshot",
        "session": session_id,
        "seq": int(seq or 0),
        "status": status_raw.decode() if status_raw is not None else status,
        "pinned": pinned,
        "viewers": int(viewers or 0),
        "chat": [encoding.loads(c) for c in reversed(chat_raw)],
    }


async def missed_events(redis: Redis, session_id: int, since: int) -> tuple[int, list[str]] | None:
    """``(last seq, stored texts of every event after since)``; None when some of them
    have been trimmed away (or ``since`` is from the future): send a snapshot instead."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.get(keys.session_seq(session_id))
        pipe.xrange(keys.session_events(session_id), min=f"{since + 1}-0", max="+")
        seq_raw, entries = await pipe.execute()
    last = int(seq_raw or 0)
    if since > last:
        return None
    if since == last:
        return last, []
    if not entries or int(entries[0][0].split(b"-", 1)[0]) != since + 1:
        return None
    return last, [fields[b"e"].decode() for _, fields in entries]
