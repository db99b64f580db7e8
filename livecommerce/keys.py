"""The one Redis key scheme. Every key is built here; nothing else spells a key.

All keys start with ``lc:``. Keys of one live session share the hash tag
``{s:<id>}`` and keys of one product share ``{p:<id>}``, so a Lua script over
one session or one product never crosses Redis Cluster slots. The full table
is in ``docs/redis-keys.md``; keep the two in step.
"""

from __future__ import annotations

__all__ = [
    "session_events",
    "session_media",
    "session_pin",
    "session_seq",
    "session_tag",
]


def session_tag(session_id: int) -> str:
    return f"lc:{{s:{session_id}}}"


def session_events(session_id: int) -> str:
    """Stream of the session's events; entry ids are ``<seq>-0`` (see hub.publish)."""
    return f"{session_tag(session_id)}:events"


def session_seq(session_id: int) -> str:
    """Integer: the last ``seq`` given to an event of the session."""
    return f"{session_tag(session_id)}:seq"


def session_pin(session_id: int) -> str:
    """JSON of the current pin (:class:`livecommerce.hub.pins.PinState`); absent if none."""
    return f"{session_tag(session_id)}:pin"


def session_media(session_id: int) -> str:
    """Hash: the session's stream health (streaming.stats), rewritten every ~1 s; expires
    a few seconds after the relay stops reporting."""
    return f"{session_tag(session_id)}:media"
