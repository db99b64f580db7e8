"""``/ws``: the thin Starlette adapter between one WebSocket and the hub.

One :class:`Connection` per socket. Its sans-I/O
:class:`~livecommerce.hub.client.ClientState` decides about each frame
(refuse, close, dispatch); the connection carries that out, runs the request's
handler from one explicit table (the domain functions: pins, chat, snapshot,
moderation) and queues replies and events on its
:class:`~livecommerce.hub.outbox.Outbox`, the only thing that sends on the
socket.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import parse_qs

from pydantic import ValidationError as PydanticValidationError
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import Receive, Scope, Send

from livecommerce import encoding
from livecommerce.api.routing import problem_from_validation
from livecommerce.auth.permissions import Principal, SessionRights
from livecommerce.db.models import User
from livecommerce.errors import Forbidden, LivecommerceError, Unauthorized, Unavailable
from livecommerce.hub import chat, pins
from livecommerce.hub.cards import CardCache
from livecommerce.hub.client import ClientState, Close, Dispatch, require_int
from livecommerce.hub.fanout import Fanout
from livecommerce.hub.outbox import Outbox, send_message
from livecommerce.hub.presence import Presence
from livecommerce.hub.protocol import Request, ack_frame, error_frame, hello_frame, replay_frames
from livecommerce.hub.rights import RightsCache
from livecommerce.hub.rooms import Room, Subscriber
from livecommerce.hub.schemas import PinIn
from livecommerce.hub.snapshot import missed_events, session_status, snapshot
from livecommerce.hub.userevents import UserEvents
from livecommerce.hub.wire import WIRE_EXTENSION, RawWire
from livecommerce.metrics import HubMetrics
from livecommerce.moderation import state as moderation_state
from livecommerce.moderation.actions import moderate
from livecommerce.moderation.schemas import ModerateIn
from livecommerce.services import Services

__all__ = ["Connection", "HubEndpoint", "HubParts"]

log = logging.getLogger("livecommerce.hub")


class HubParts(Protocol):
    """What a connection uses of its hub (:class:`~livecommerce.hub.component.Hub`
    has these once started)."""

    services: Services
    connections: set[Connection]
    fanout: Fanout
    presence: Presence
    cards: CardCache
    rights: RightsCache
    user_events: UserEvents
    metrics: HubMetrics


class HubEndpoint:
    """The raw ASGI app behind ``/ws`` (no Starlette ``WebSocket`` wrapper: the fan-out
    hands every viewer the same prebuilt ASGI message)."""

    def __init__(self, hub: HubParts) -> None:
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = self.hub
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        wire = scope.get("extensions", {}).get(WIRE_EXTENSION, {}).get("wire")
        conn = Connection(hub, send, wire)
        token = parse_qs(scope.get("query_string", b"").decode()).get("token")
        try:
            if token:
                await conn.authenticate(token[0])
        except LivecommerceError as exc:
            code = 1013 if isinstance(exc, Unavailable) else 4001  # 1013: try again later
            await send({"type": "websocket.close", "code": code, "reason": exc.detail[:120]})
            return
        hub.connections.add(conn)
        conn.outbox.push(hello_frame(user_id=conn.principal.user_id, role=conn.principal.role))
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:  # a binary frame: refused by ClientState
                    text = message.get("bytes") or b""
                await conn.handle(text)
        finally:
            hub.connections.discard(conn)
            conn.leave()
            conn.sign_out()
            await conn.outbox.wait_closed(1)
            conn.outbox.stop()
            hub.metrics.closed(conn.outbox.close_code)


class Connection:
    """One client's transport side: its state, its outbox, its subscription."""

    def __init__(self, hub: HubParts, send: Send, wire: RawWire | None = None) -> None:
        self.hub = hub
        settings = hub.services.settings
        self.state = ClientState(
            request_rate=settings.hub_request_rate,
            max_frame_bytes=settings.hub_max_frame_bytes,
            max_refused=settings.hub_max_refused,
            now=time.monotonic(),
        )
        self.outbox = Outbox(
            send,
            limit=settings.hub_send_queue,
            max_chars=settings.hub_send_buffer_bytes,
            wire=wire,
            close_grace_s=settings.hub_close_grace_s,
        )
        self.subscriber: Subscriber | None = None
        #: Request type → handler; a handler returns the ack's fields, or None when it
        #: has replied itself.
        self.handlers: dict[str, Callable[[Request], Awaitable[dict[str, object] | None]]] = {
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

    @property
    def principal(self) -> Principal:
        return self.state.principal

    async def authenticate(self, token: str) -> None:
        """Sign in with ``token``: from when this returns the user's own frames
        (``order_status``) reach this connection, and another user's, followed before,
        no longer do. On any error nothing changes."""
        claims = self.hub.services.tokens.verify(token)
        user_events = self.hub.user_events
        before = self.principal.user_id
        if claims.user_id != before:
            await user_events.follow(claims.user_id, self.outbox)
            if before is not None:
                user_events.unfollow(before, self.outbox)
        self.state.sign_in(
            Principal(user_id=claims.user_id, role=claims.role, brand_id=claims.brand_id)
        )

    def sign_out(self) -> None:
        """Stop following the user's own frames (the connection is closing)."""
        user_id = self.principal.user_id
        if user_id is not None:
            self.hub.user_events.unfollow(user_id, self.outbox)

    async def handle(self, text: str | bytes) -> None:
        """Answer one client frame; errors become ``error`` frames, never a crash."""
        decision = self.state.receive(text, now=time.monotonic())
        if isinstance(decision, Close):
            self.outbox.close_after(decision.code, decision.reason)
            return
        if not isinstance(decision, Dispatch):
            self.hub.metrics.refused(decision.code)
            self.outbox.push(decision.frame)
            return
        request = decision.request
        request_id = request.id
        try:
            reply = await self.handlers[request.type](request)
            if reply is not None:
                self.outbox.push(ack_frame(request_id, **reply))
        except LivecommerceError as exc:
            self.hub.metrics.refused(exc.code)
            self.outbox.push(error_frame(exc, request_id))
        except PydanticValidationError as exc:
            problem = problem_from_validation(exc, where="")
            self.hub.metrics.refused(problem.code)
            self.outbox.push(error_frame(problem, request_id))
        except (RedisError, SQLAlchemyError):
            log.warning("hub: storage unavailable", exc_info=True)
            unavailable = Unavailable("the live service is briefly unavailable; retry shortly")
            self.outbox.push(error_frame(unavailable, request_id))
        except Exception:
            log.exception("hub: request failed")
            internal = LivecommerceError("an internal error occurred; it has been logged")
            self.outbox.push(error_frame(internal, request_id))

    # -- requests ---------------------------------------------------------------

    async def _on_ping(self, request: Request) -> dict[str, object] | None:
        self.outbox.push(encoding.dumps({"type": "pong", "id": request.id}).decode())
        return None

    async def _on_auth(self, request: Request) -> dict[str, object]:
        token = request.body.get("token")
        if not isinstance(token, str) or not token:
            raise Unauthorized("auth needs a 'token'")
        await self.authenticate(token)
        return {"user_id": self.principal.user_id, "role": self.principal.role}

    async def _on_join(self, request: Request) -> dict[str, object] | None:
        session_id = require_int(request.body.get("session"), "session")
        since_raw = request.body.get("since")
        since = None if since_raw is None else require_int(since_raw, "since", low=0)
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
        self.state.session_id = session_id
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
        self.hub.presence.joined(session_id, self.state.presence_key())
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

    async def _on_leave(self, request: Request) -> dict[str, object]:
        self.leave()
        return {}

    async def _on_chat(self, request: Request) -> dict[str, object]:
        session_id = self.state.joined()
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

    async def _on_react(self, request: Request) -> dict[str, object]:
        session_id = self.state.joined()
        self.hub.presence.react(session_id, chat.check_reaction(request.body.get("kind")))
        return {}

    async def _on_pin(self, request: Request) -> dict[str, object]:
        body = dict(request.body)
        session_id = self.state.session_of(body)
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

    async def _on_unpin(self, request: Request) -> dict[str, object]:
        session_id = self.state.session_of(dict(request.body))
        out = await pins.unpin(
            self.hub.services, self.principal, session_id, rights=await self._rights(session_id)
        )
        return {"pin": out.model_dump(mode="json")}

    async def _on_moderate(self, request: Request) -> dict[str, object]:
        body = dict(request.body)
        session_id = self.state.session_of(body)
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
        self.state.session_id = None

    async def _display_name(self) -> str:
        state = self.state
        if state.name is None:
            async with self.hub.services.db.sessions() as db:
                name = await db.scalar(
                    select(User.display_name).where(User.id == state.principal.user_id)
                )
            state.name = name or f"user {state.principal.user_id}"
        return state.name
