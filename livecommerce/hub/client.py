"""One WebSocket client's state and the decisions on its frames, without I/O.

:class:`ClientState` is what a connection knows — who the client is, which
session it watches, its request budget — and what it decides about each frame
it receives: answer with an error, close the connection, or hand the parsed
request to its handler (:class:`Refuse`, :class:`Close`, :class:`Dispatch`).
The transport adapter (:mod:`livecommerce.hub.endpoint`) carries out the
decisions and runs the handlers, which do the I/O (Redis, SQL, the outbox).
Everything here is plain data and is tested without sockets.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from livecommerce.api.common import MAX_ID
from livecommerce.auth.permissions import ANONYMOUS, Principal
from livecommerce.errors import BadRequest, LivecommerceError, ValidationFailed
from livecommerce.hub.protocol import (
    CLOSE_RATE_LIMITED,
    Request,
    RequestId,
    TokenBucket,
    error_frame,
    parse_request,
    request_id_of,
)

__all__ = ["ClientState", "Close", "Decision", "Dispatch", "Refuse", "require_int"]


@dataclass(frozen=True, slots=True)
class Refuse:
    """Answer with ``frame`` (an ``error``); the request is not run."""

    frame: str
    #: The error code (for metrics).
    code: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with ``code``."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Run ``request``'s handler; its reply echoes ``request.id``."""

    request: Request


Decision = Refuse | Close | Dispatch


class ClientState:
    """One connection's client: identity, joined session, request budget."""

    def __init__(
        self,
        *,
        request_rate: float,
        max_frame_bytes: int,
        max_refused: int,
        now: float,
    ) -> None:
        self.principal: Principal = ANONYMOUS
        #: The display name, once read (None: not yet, or signed in again since).
        self.name: str | None = None
        #: The session watched, or None.
        self.session_id: int | None = None
        self.bucket = TokenBucket(request_rate, 2 * request_rate, now=now)
        self.max_frame_bytes = max_frame_bytes
        self.max_refused = max_refused
        #: Requests refused in a row for the rate.
        self.refused = 0
        self.last_active = now
        #: Stands for an anonymous viewer in presence counts.
        self.anonymous_id = secrets.token_hex(6)

    def receive(self, text: str | bytes, *, now: float) -> Decision:
        """Decide about one client frame: a parse error or the rate refuses it (echoing
        the request ``id`` whenever it could be read), far over the rate closes, else the
        request is dispatched."""
        self.last_active = now
        allowed = self.bucket.take(now)
        try:
            request = parse_request(text, max_bytes=self.max_frame_bytes)
        except LivecommerceError as exc:
            if allowed:
                return Refuse(error_frame(exc), exc.code)
            return self._over_rate(request_id_of(exc))
        if not allowed:
            return self._over_rate(request.id)
        self.refused = 0
        return Dispatch(request)

    def _over_rate(self, request_id: RequestId) -> Decision:
        self.refused += 1
        if self.refused > self.max_refused:
            return Close(CLOSE_RATE_LIMITED, "too many requests")
        error = LivecommerceError("slow down: too many requests", code="rate_limited")
        return Refuse(error_frame(error, request_id), error.code)

    def sign_in(self, principal: Principal) -> None:
        self.principal = principal
        self.name = None

    def joined(self) -> int:
        """The session watched (``not_joined`` if none)."""
        if self.session_id is None:
            raise BadRequest("join a session first", code="not_joined")
        return self.session_id

    def session_of(self, body: dict[str, object]) -> int:
        """The ``session`` named in a signed-in user's request (removed from ``body``),
        else the joined one."""
        self.principal.require_user()
        if "session" in body:
            return require_int(body.pop("session"), "session")
        return self.joined()

    def presence_key(self) -> str:
        """Who this client is in a session's viewer count."""
        user_id = self.principal.user_id
        return str(user_id) if user_id else f"a:{self.anonymous_id}"

    def idle(self, now: float, timeout_s: float) -> bool:
        """Joined nothing and sent nothing for ``timeout_s``."""
        return self.session_id is None and now - self.last_active > timeout_s


def require_int(value: object, field: str, *, low: int = 1) -> int:
    """``value`` as an integer in ``low``..``MAX_ID`` (booleans are not integers; nothing
    beyond a SQL BIGINT names a row or a position), else ``validation_failed`` naming
    ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_ID:
        raise ValidationFailed(f"{field}: an integer from {low} to {MAX_ID} is required")
    return value
