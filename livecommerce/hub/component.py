"""The hub as an app component: ``/ws``, the pin endpoints, and its serving tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from starlette.routing import BaseRoute, WebSocketRoute

from livecommerce import keys
from livecommerce.components import Component
from livecommerce.db.models import SessionStatus
from livecommerce.events import SessionStateChanged
from livecommerce.hub.cards import CardCache
from livecommerce.hub.endpoint import Connection, HubEndpoint
from livecommerce.hub.fanout import Fanout
from livecommerce.hub.pins import end_pins
from livecommerce.hub.presence import Presence
from livecommerce.hub.protocol import CLOSE_IDLE, CLOSE_SHUTDOWN
from livecommerce.hub.rights import RightsCache
from livecommerce.hub.userevents import UserEvents
from livecommerce.services import Services
from livecommerce.sessionfeed import publish
from livecommerce.streampos import mark_live

__all__ = ["Hub", "Member"]

log = logging.getLogger("livecommerce.hub")


class Hub(Component):
    """Owns this process's connections, rooms and the stream reader."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.connections: set[Connection] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def routes(self) -> list[BaseRoute]:
        return [WebSocketRoute("/ws", HubEndpoint(self))]

    async def start(self) -> None:
        services = self.services
        settings = services.settings
        self.cards = CardCache(
            services.db, ttl_s=settings.card_ttl_s, max_entries=settings.cache_max_entries
        )
        self.presence = Presence(services.redis, maxlen=settings.hub_stream_maxlen)
        self.rights = RightsCache(
            services.db,
            ttl_s=settings.session_rights_cache_s,
            max_entries=settings.cache_max_entries,
        )
        self.metrics = services.metrics.hub
        self.fanout = Fanout(
            services.redis,
            batch_window_s=settings.hub_batch_window_s,
            block_ms=settings.hub_read_block_ms,
            on_room_change=self.presence.set_local,
            metrics=self.metrics,
        )
        self.user_events = UserEvents(services.redis)
        await self.user_events.start()
        self.metrics.track(
            lambda: len(self.connections),
            lambda: len(self.fanout.rooms),
            lambda: self.user_events.users,
        )
        services.events.subscribe(SessionStateChanged, self._on_session_state)
        self._tasks = [
            asyncio.create_task(self.fanout.run(), name="hub-reader"),
            asyncio.create_task(self._tick(), name="hub-ticker"),
        ]

    async def stop(self) -> None:
        for conn in list(self.connections):
            conn.outbox.close_after(CLOSE_SHUTDOWN, "server restarting: reconnect")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.user_events.stop()
        with contextlib.suppress(Exception):
            await self.presence.withdraw()

    async def _on_session_state(self, event: SessionStateChanged) -> None:
        session_id, status = event.session_id, event.status
        redis = self.services.redis
        await redis.set(keys.session_status(session_id), status)
        if status == SessionStatus.LIVE:
            await mark_live(redis, session_id, int(self.services.clock() * 1000))
        if status == SessionStatus.ENDED:
            await end_pins(self.services, session_id)
        await publish(
            redis,
            session_id,
            {"type": "session_state", "status": status},
            maxlen=self.services.settings.hub_stream_maxlen,
        )

    async def _tick(self) -> None:
        """Reactions every window, viewer counts every second, idle sweep every 5 s."""
        settings = self.services.settings
        window = settings.hub_reaction_window_s
        next_report = next_sweep = 0.0
        while True:
            await asyncio.sleep(window)
            now = time.monotonic()
            try:
                await self.presence.flush_reactions()
                if now >= next_report:
                    next_report = now + 1.0
                    await self.presence.report()
                if now >= next_sweep:
                    next_sweep = now + 5.0
                    self._sweep_idle(now, settings.hub_idle_timeout_s)
            except Exception:
                log.exception("hub: periodic task failed")

    def members(self) -> list[Member]:
        """Signed-in connections that joined a session, for pushes that are not
        session events (the moderators' dashboard)."""
        members = []
        for conn in list(self.connections):
            subscriber = conn.subscriber
            if subscriber is not None and conn.principal.user_id is not None:
                members.append(Member(conn, subscriber.session_id))
        return members

    def _sweep_idle(self, now: float, timeout_s: float) -> None:
        for conn in list(self.connections):
            if conn.state.idle(now, timeout_s):
                conn.outbox.close_after(CLOSE_IDLE, "idle: join a session or send a ping")


class Member:
    """A signed-in connection and the session it watches."""

    def __init__(self, conn: Connection, session_id: int) -> None:
        self._conn = conn
        self.principal = conn.principal
        self.session_id = session_id

    def send(self, text: str) -> None:
        """Queue ``text`` on the connection, unless it has left the session since."""
        subscriber = self._conn.subscriber
        if subscriber is not None and subscriber.session_id == self.session_id:
            self._conn.outbox.push(text)
