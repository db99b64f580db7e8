"""What a part of the system (hub, cart, relay, ...) plugs into the app.

Routes must exist when the Starlette app is built, but connections only in
its lifespan; so a component is built with the settings, declares its routes
up front, and gets the live :class:`~livecommerce.services.Services` in
:meth:`Component.start`. Handlers reach it with ``services.get(Kind)``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from starlette.routing import BaseRoute

from livecommerce.api.routing import Api
from livecommerce.services import Services

__all__ = ["Component", "Job"]

#: A long-running background loop (reaper, reconciler...): runs in ``worker``,
#: and in ``serve`` when the embedded worker is on.
Job = Callable[[], Coroutine[Any, Any, None]]


class Component:
    """Base class with no-op defaults; override what the component needs."""

    #: Documented HTTP endpoints (they appear in /openapi.json).
    api: Api | None = None

    def routes(self) -> list[BaseRoute]:
        """Undocumented routes: WebSockets, static files, pages."""
        return []

    async def start(self, services: Services) -> None:
        """Open connections, start serving tasks; called once in the lifespan."""

    async def stop(self) -> None:
        """Release everything ``start`` took."""

    def jobs(self) -> list[Job]:
        return []
