"""Dashboards as an app component: the HTTP endpoints and the push to moderators.

Every ``push_interval_s`` this process sends a ``dashboard`` frame to each of
its WebSocket connections that has joined a session *and* may moderate it
(host, moderators, admins — asked of the hub's rights cache,
``Settings.session_rights_cache_s``, shared with the hub's pin requests). The
frame is computed and serialized once per session and goes through each
connection's bounded outbox like any other frame; it is not a session event
(no ``seq``), since viewers never see it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from livecommerce import encoding
from livecommerce.auth.permissions import Principal
from livecommerce.components import Component
from livecommerce.dashboard.numbers import compute_dashboard
from livecommerce.dashboard.sales import SalesCache, SessionSales
from livecommerce.dashboard.schemas import DashboardOut
from livecommerce.errors import LivecommerceError
from livecommerce.hub.component import Hub, Member
from livecommerce.hub.snapshot import session_status
from livecommerce.services import Services

__all__ = ["Dashboard"]

log = logging.getLogger("livecommerce.dashboard")


class Dashboard(Component):
    def __init__(self, services: Services, hub: Hub, *, push_interval_s: float = 1.0) -> None:
        self.services = services
        self.hub = hub
        self.push_interval_s = push_interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        services = self.services
        self.sales = SalesCache(services.db, max_entries=services.settings.cache_max_entries)
        self._task = asyncio.create_task(self._push_loop(), name="dashboard-push")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def dashboard(self, session_id: int) -> DashboardOut:
        """The session's numbers now (404 if it does not exist)."""
        services = self.services
        status = await session_status(services.redis, services.db, session_id)
        return await compute_dashboard(
            services.redis,
            self.sales,
            session_id,
            status=status,
            now_ms=int(services.clock() * 1000),
        )

    async def sales_of(self, session_id: int) -> SessionSales:
        now = datetime.fromtimestamp(self.services.clock(), UTC)
        return await self.sales.get(session_id, now=now)

    async def _push_loop(self) -> None:
        while True:
            await asyncio.sleep(self.push_interval_s)
            try:
                await self.push_once()
            except Exception:
                log.exception("dashboard: push failed")

    async def push_once(self) -> None:
        """Send the current dashboard to every local connection that may see it."""
        watchers: dict[int, list[Member]] = {}
        for member in self.hub.members():
            if await self._may_watch(member.principal, member.session_id):
                watchers.setdefault(member.session_id, []).append(member)
        for session_id, members in watchers.items():
            try:
                numbers = await self.dashboard(session_id)
            except LivecommerceError:
                continue
            text = encoding.dumps(numbers.model_dump(mode="json")).decode()
            for member in members:
                member.send(text)

    async def _may_watch(self, principal: Principal, session_id: int) -> bool:
        if principal.is_admin:
            return True
        try:
            staff = await self.hub.rights.staff(session_id)
        except LivecommerceError:  # the session is gone
            return False
        return staff.may_moderate(principal)
