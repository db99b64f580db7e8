"""``/ws``: the thin Starlette adapter between one WebSocket and the hub.

One :class:`Connection` per socket: it parses requests (``protocol``), calls
the domain functions (pins, chat, snapshot) through one explicit table of
handlers and queues replies and events on its
:class:`~livecommerce.hub.outbox.Outbox`, the only thing that sends on the
socket.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from pydantic import ValidationError as PydanticValidationError
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import Receive, Scope, Send

from livecommerce import encoding
from livecommerce.api.routing import problem_from_validation
from livecommerce.auth.permissions import ANONYMOUS, Principal, SessionRights
from livecommerce.db.models import User
from livecommerce.errors import (
    BadRequest,
    Forbidden,
    LivecommerceError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from livecommerce.hub import chat, pins
from livecommerce.hub.outbox import Outbox, send_message
from livecommerce.hub.protocol import (
    CLOSE_RATE_LIMITED,
    Request,
    TokenBucket,
    ack_frame,
    error_frame,
    hello_frame,
    parse_request,
    replay_frames,
    request_id_of,
)
from livecommerce.hub.rooms import Room, Subscriber
from livecommerce.hub.schemas import PinIn
from livecommerce.hub.snapshot import missed_events, session_status, snapshot
from livecommerce.hub.wire import WIRE_EXTENSION, RawWire
from livecommerce.moderation import state as moderation_state
from livecommerce.moderation.actions import moderate
from livecommerce.moderation.schemas import ModerateIn

if TYPE_CHECKING:
    from livecommerce.hub.component import Hub

__all__ = ["Connection", "hub_endpoint"]

log = logging.getLogger("livecommerce.hub")


class HubEndpoint:
    """The raw ASGI app behind ``/ws`` (no Starlette ``WebSocket`` wrapper: the fan-out
    hands every viewer the same prebuilt ASGI message)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from livecommerce.hub.component import Hub

        hub = scope["app"].state.services.get(Hub)
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        wire = scope.get("extensions", {}).get(WIRE_EXTENSION, {}).get("wire")
        conn = Connection(hub, send, wire)
        token = parse_qs(scope.get("query_string", b"").decode()).get("token")
        try:
            if token:
                conn.authenticate(token[0])
        except LivecommerceError as exc:
            await send({"type": "websocket.close", "code": 4001, "reason": exc.detail[:120]})
            return
        hub.connections.add(conn)
        conn.outbox.push(hello_frame(user_id=conn.principal.user_id, role=conn.principal.role))
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:  # a binary frame: refused by parse_request
                    text = message.get("bytes") or b""
                await conn.handle(text)
        finally:
            hub.connections.discard(conn)
            conn.leave()
            await conn.outbox.wait_closed(1)
            conn.outbox.stop()
            hub.metrics.closed(conn.outbox.close_code)


hub_endpoint = HubEndpoint()


class Connection:
    """One client: who it is, what it joined, its limits."""

    def __init__(self, hub: Hub, send: Send, wire: RawWire | None = None) -> None:
        self.hub = hub
        settings = hub.services.settings
        self.principal: Principal = ANONYMOUS
        self.name: str | None = None
        self.outbox = Outbox(
            send,
            limit=settings.hub_send_queue,
            max_chars=settings.hub_send_buffer_bytes,
            wire=wire,
            close_grace_s=settings.hub_close_grace_s,
        )
        self.subscriber: Subscriber | None = None
        self.bucket = TokenBucket(settings.hub_request_rate, 2 * settings.hub_request_rate)
        self.refused = 0
        self.last_active = time.monotonic()
        self.anonymous_id = secrets.token_hex(6)
        #: Request type → handler; a handler returns the ack's fields, or None when it
        #: has replied itself.
        self.handlers: dict[str, Callable[[Request], Awaitable[dict[str, Any] | None]]] = {
            "auth": self._on_auth,
            "join": self._on_join,
            "leave": self._on_leave,
            "chat": self._on_chat,
            "react": self._on_react,
            "pin": self._on_pin,
            "unpin": self._on_unpin,
            "moderate": self._on_moderate,
            "ping": self._on_ping,
        }

    def authenticate(self, token: str) -> None:
        claims = self.hub.services.tokens.verify(token)
        self.principal = Principal(
            user_id=claims.user_id, role=claims.role, brand_id=claims.brand_id
        )
        self.name = None

    async def handle(self, text: str | bytes) -> None:
        """Answer one client frame; errors become ``error`` frames, never a crash."""
        self.last_active = time.monotonic()
        settings = self.hub.services.settings
        allowed = self.bucket.take()
        request_id: Any = None
        try:
            request = parse_request(text, max_bytes=settings.hub_max_frame_bytes)
        except LivecommerceError as exc:
            if allowed:
                self.hub.metrics.refused(exc.code)
                self.outbox.push(error_frame(exc))
                return
            request_id = request_id_of(exc)
        else:
            request_id = request.id
        if not allowed:
            self.refused += 1
            if self.refused > settings.hub_max_refused:
                self.outbox.close_after(CLOSE_RATE_LIMITED, "too many requests")
                return
            self.hub.metrics.refused("rate_limited")
            error = LivecommerceError("slow down: too many requests", code="rate_limited")
            self.outbox.push(error_frame(error, request_id))
            return
        self.refused = 0
        try:
            reply = await self.handlers[request.type](request)
            if reply is not None:
                self.outbox.push(ack_frame(request_id, **reply))
        except LivecommerceError as exc:
            self.hub.metrics.refused(exc.code)
            self.outbox.push(error_frame(exc, request_id))
        except PydanticValidationError as exc:
            self.outbox.push(error_frame(problem_from_validation(exc, where=""), request_id))
        except (RedisError, SQLAlchemyError):
            log.warning("hub: storage unavailable", exc_info=True)
            error = Unavailable("the live service is briefly unavailable; retry shortly")
            self.outbox.push(error_frame(error, request_id))
        except Exception:
            log.exception("hub: request failed")
            error = LivecommerceError("an internal error occurred; it has been logged")
            self.outbox.push(error_frame(error, request_id))

    # -- requests ---------------------------------------------------------------

    async def _on_ping(self, request: Request) -> dict[str, Any] | None:
        self.outbox.push(encoding.dumps({"type": "pong", "id": request.id}).decode())
        return None

    async def _on_auth(self, request: Request) -> dict[str, Any]:
        token = request.body.get("token")
        if not isinstance(token, str) or not token:
            raise Unauthorized("auth needs a 'token'")
        self.authenticate(token)
        return {"user_id": self.principal.user_id, "role": self.principal.role}

    async def _on_join(self, request: Request) -> dict[str, Any] | None:
        session_id = _int(request.body.get("session"), "session")
        since_raw = request.body.get("since")
        since = None if since_raw is None else _int(since_raw, "since", low=0)
        self.leave()
        services = self.hub.services
        if session_id not in self.hub.fanout.rooms:  # 404 before anything
            await session_status(services.redis, services.db, session_id)
        user_id = self.principal.user_id
        if user_id is not None and await moderation_state.is_banned(
            services.redis, session_id, user_id
        ):
            raise Forbidden("you are banned from this show", code="banned")
        subscriber = Subscriber(self.outbox, session_id, user_id=user_id)
        room = await self.hub.fanout.subscribe(subscriber)
        self.subscriber = subscriber
        try:
            missed = None
            if since is not None:
                missed = await missed_events(services.redis, session_id, since)
            if missed is None:
                last = await self._send_snapshot(room)
                replayed = None
            else:
                last, texts = missed
                for frame in replay_frames(texts):
                    await self.outbox.drain()  # a long replay goes at the client's pace
                    self.outbox.push(frame)
                replayed = len(texts)
        except BaseException:
            self.leave()
            raise
        # The snapshot or the replayed events, then the ack, then live events (held
        # until now): the ack always comes before any event newer than its seq.
        self.outbox.push(ack_frame(request.id, session=session_id, seq=last, replayed=replayed))
        subscriber.start(last)
        self.hub.metrics.joins.inc()
        who = str(user_id) if user_id else f"a:{self.anonymous_id}"
        self.hub.presence.joined(session_id, who)
        return None

    async def _send_snapshot(self, room: Room) -> int:
        """Send the session's snapshot; returns its seq. A snapshot taken at the seq the
        room has read up to is shared by every viewer joining until the next event (the
        events after it reach them live), so a join storm does not mean a Redis storm."""
        cached = room.snapshot
        if cached is not None and cached[0] == room.last_seq:
            self.outbox.push_message(cached[1])
            return cached[0]
        services = self.hub.services
        state = await snapshot(
            services.redis,
            services.db,
            self.hub.cards,
            room.session_id,
            recent_chat=services.settings.hub_recent_chat,
        )
        message = send_message(encoding.dumps(state).decode())
        seq: int = state["seq"]
        if seq == room.last_seq:
            room.snapshot = (seq, message)
        self.outbox.push_message(message)
        return seq

    async def _on_leave(self, request: Request) -> dict[str, Any]:
        self.leave()
        return {}

    async def _on_chat(self, request: Request) -> dict[str, Any]:
        session_id = self._joined()
        user_id = self.principal.require_user()
        name = await self._display_name()
        services = self.hub.services
        message_id, seq = await chat.send_chat(
            services.redis,
            services.settings,
            session_id=session_id,
            user_id=user_id,
            name=name,
            text=request.body.get("text"),
            now_ms=int(services.clock() * 1000),
        )
        return {"message_id": message_id, "seq": seq}

    async def _on_react(self, request: Request) -> dict[str, Any]:
        session_id = self._joined()
        self.hub.presence.react(session_id, chat.check_reaction(request.body.get("kind")))
        return {}

    async def _on_pin(self, request: Request) -> dict[str, Any]:
        body = dict(request.body)
        session_id = self._session_of(body)
        data = PinIn.model_validate(body)
        out = await pins.pin_product(
            self.hub.services,
            self.hub.cards,
            self.principal,
            session_id,
            data,
            rights=await self._rights(session_id),
        )
        return {"pin": out.model_dump(mode="json")}

    async def _on_unpin(self, request: Request) -> dict[str, Any]:
        session_id = self._session_of(dict(request.body))
        out = await pins.unpin(
            self.hub.services, self.principal, session_id, rights=await self._rights(session_id)
        )
        return {"pin": out.model_dump(mode="json")}

    async def _on_moderate(self, request: Request) -> dict[str, Any]:
        body = dict(request.body)
        session_id = self._session_of(body)
        # livecommerce.moderation checks the rights and writes the audit log.
        out = await moderate(
            self.hub.services, self.principal, session_id, ModerateIn.model_validate(body)
        )
        return {"moderation": out.model_dump(mode="json")}

    # -- helpers ----------------------------------------------------------------

    async def _rights(self, session_id: int) -> SessionRights:
        """The principal's rights on the session, from the process's rights cache."""
        return await self.hub.rights.rights(self.principal, session_id)

    def leave(self) -> None:
        if self.subscriber is not None:
            self.hub.fanout.unsubscribe(self.subscriber)
            self.subscriber = None

    def _joined(self) -> int:
        if self.subscriber is None:
            raise BadRequest("join a session first", code="not_joined")
        return self.subscriber.session_id

    def _session_of(self, body: dict[str, Any]) -> int:
        """The ``session`` named in the request, else the joined one."""
        self.principal.require_user()
        if "session" in body:
            return _int(body.pop("session"), "session")
        return self._joined()

    async def _display_name(self) -> str:
        if self.name is None:
            async with self.hub.services.db.sessions() as db:
                name = await db.scalar(
                    select(User.display_name).where(User.id == self.principal.user_id)
                )
            self.name = name or f"user {self.principal.user_id}"
        return self.name


def _int(value: Any, field: str, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValidationFailed(f"{field}: an integer ≥ {low} is required")
    return value
