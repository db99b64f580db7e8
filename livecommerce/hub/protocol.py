"""The hub's wire protocol, without I/O: parsing requests, building frames, limits.

Version 1, documented in ``docs/protocol.md`` (the contract for outside
clients). Frames are JSON text. Requests are ``{"type": ..., "id"?: ...}``;
replies echo ``id``. Session events are forwarded as the exact bytes stored in
the session's stream; high-rate events share ``batch`` frames built here by
concatenation, so no event is serialized twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from livecommerce import encoding
from livecommerce.errors import BadRequest, LivecommerceError, ValidationFailed

__all__ = [
    "CLIENT_TYPES",
    "CLOSE_BANNED",
    "CLOSE_IDLE",
    "CLOSE_RATE_LIMITED",
    "CLOSE_RESYNC",
    "CLOSE_SHUTDOWN",
    "CLOSE_SLOW",
    "COALESCED_KINDS",
    "PROTOCOL_VERSION",
    "REACTION_KINDS",
    "Request",
    "TokenBucket",
    "ack_frame",
    "batch_frame",
    "error_frame",
    "hello_frame",
    "parse_request",
    "replay_frames",
    "request_id_of",
]

PROTOCOL_VERSION = 1

#: Close codes (RFC 6455 leaves 4000-4999 to applications).
CLOSE_IDLE = 4000  # nothing joined and nothing sent for ``hub_idle_timeout_s``
CLOSE_BANNED = 4003  # a moderator banned the user from the session it watches
CLOSE_SLOW = 4008  # the outgoing buffer filled up: reconnect and ``join`` with ``since``
CLOSE_RESYNC = 4011  # the server lost events of the session: reconnect and ``join``
CLOSE_RATE_LIMITED = 4029  # far over the request rate
CLOSE_SHUTDOWN = 1012  # server restarting: reconnect (to another process)

#: Request types a client may send.
CLIENT_TYPES = frozenset(
    {"auth", "join", "leave", "chat", "react", "pin", "unpin", "moderate", "ping"}
)

#: Event kinds that may wait up to ``hub_batch_window_s`` to share a ``batch`` frame.
COALESCED_KINDS = frozenset({"chat", "chat_deleted", "reactions", "stock", "viewers"})

REACTION_KINDS = frozenset({"heart", "fire", "clap", "laugh", "wow", "sad"})

#: The JSON type of each top-level field a request may carry, by request type (checked
#: at parse time, so no handler ever sees a list where it reads a string). Presence and
#: ranges are the handlers' (and pydantic models') business; ``pin`` and ``moderate``
#: bodies are validated whole by their models.
_FIELD_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    "auth": {"token": (str,)},
    "join": {"session": (int,), "since": (int,)},
    "leave": {},
    "chat": {"text": (str,)},
    "react": {"kind": (str,)},
    "pin": {"session": (int,)},
    "unpin": {"session": (int,)},
    "moderate": {"session": (int,)},
    "ping": {},
}
_JSON_NAMES = {str: "a string", int: "an integer"}

#: A request's ``id``: any string or integer the client chose, echoed in the reply.
RequestId = str | int | None

_BATCH_HEAD = '{"type":"batch","events":['


@dataclass(frozen=True, slots=True)
class Request:
    type: str
    id: RequestId
    #: The request's other fields, as JSON values (their JSON types checked per type).
    body: dict[str, object]


def parse_request(text: str | bytes, *, max_bytes: int) -> Request:
    """Decode one client frame. Raises :class:`BadRequest` (``malformed``,
    ``too_large``, ``unknown_type``, ``validation_failed`` for a field of the wrong JSON
    type) carrying the request ``id`` in ``extra["id"]`` when it could be read."""
    if isinstance(text, bytes):
        raise BadRequest("requests are JSON text frames, not binary", code="malformed")
    if len(text) > max_bytes or (4 * len(text) > max_bytes and len(text.encode()) > max_bytes):
        raise BadRequest(f"frames are limited to {max_bytes} bytes", code="too_large")
    try:
        data = encoding.loads(text)
    except encoding.JSONDecodeError:
        raise BadRequest("the frame is not valid JSON", code="malformed") from None
    if not isinstance(data, dict):
        raise BadRequest("a request is a JSON object with a 'type'", code="malformed")
    request_id = data.pop("id", None)
    if isinstance(request_id, bool) or (
        request_id is not None and not isinstance(request_id, str | int)
    ):
        raise BadRequest("'id' must be a string or an integer", code="malformed")
    kind = data.pop("type", None)
    if not isinstance(kind, str):
        raise _with_id(ValidationFailed("type: a string is required"), request_id)
    fields = _FIELD_TYPES.get(kind)
    if fields is None:
        raise _with_id(
            BadRequest(
                f"unknown request type {kind[:40]!r}; expected one of {sorted(CLIENT_TYPES)}",
                code="unknown_type",
            ),
            request_id,
        )
    for name, types in fields.items():
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            wanted = " or ".join(_JSON_NAMES[t] for t in types)
            raise _with_id(ValidationFailed(f"{name}: {wanted} is required"), request_id)
    return Request(type=kind, id=request_id, body=data)


def _with_id(error: LivecommerceError, request_id: RequestId) -> LivecommerceError:
    error.extra["id"] = request_id
    return error


def request_id_of(error: LivecommerceError) -> RequestId:
    """The request ``id`` a :func:`parse_request` error carries (None if unread)."""
    return error.extra.get("id")


def ack_frame(request_id: RequestId, **extra: object) -> str:
    return encoding.dumps({"type": "ack", "id": request_id, **extra}).decode()


def error_frame(error: LivecommerceError, request_id: RequestId = None) -> str:
    if request_id is None:
        request_id = error.extra.get("id")
    return encoding.dumps(
        {"type": "error", "id": request_id, "code": error.code, "message": error.detail}
    ).decode()


def hello_frame(*, user_id: int | None, role: str | None) -> str:
    return encoding.dumps(
        {"type": "hello", "protocol": PROTOCOL_VERSION, "user_id": user_id, "role": role}
    ).decode()


def batch_frame(texts: Sequence[str]) -> str:
    """One frame for several stored events, by concatenation (nothing re-serialized)."""
    if len(texts) == 1:
        return texts[0]
    return _BATCH_HEAD + ",".join(texts) + "]}"


def replay_frames(
    texts: Sequence[str], *, max_events: int = 200, max_chars: int = 64 * 1024
) -> list[str]:
    """Missed events as a few ``batch`` frames (a long replay must not fill a
    connection's buffer frame by frame)."""
    frames: list[str] = []
    chunk: list[str] = []
    size = 0
    for text in texts:
        if chunk and (len(chunk) >= max_events or size + len(text) > max_chars):
            frames.append(batch_frame(chunk))
            chunk, size = [], 0
        chunk.append(text)
        size += len(text)
    if chunk:
        frames.append(batch_frame(chunk))
    return frames


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; one token per request."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, *, now: float | None = None) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic() if now is None else now

    def take(self, now: float | None = None) -> bool:
        """Whether a request may go now (and spend its token)."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
