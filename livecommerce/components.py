"""What a part of the system (hub, cart, relay, ...) plugs into the app.

Routes must exist when the Starlette app is built, but connections only in its
lifespan. So a component is built with what it uses — the app's
:class:`~livecommerce.services.Services` and the other parts it talks to — declares
its routes up front, and opens what it needs in :meth:`Component.start`.

A component's documented HTTP endpoints live in an :class:`~livecommerce.api.routing.Api`
module of its own, whose handlers take the component as their context; the
composition root pairs the two with :func:`bind`, so a component never imports its
HTTP adapters and they never look it up.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.routing import BaseRoute, Route

from livecommerce.api.routing import Api, Edge, Endpoint

__all__ = ["BoundApi", "Component", "Job", "bind"]

C = TypeVar("C")

#: A long-running background loop (reaper, reconciler...): runs in ``worker``,
#: and in ``serve`` when the embedded worker is on.
Job = Callable[[], Coroutine[Any, Any, None]]


class Component:
    """Base class with no-op defaults; override what the component needs."""

    def routes(self) -> list[BaseRoute]:
        """Undocumented routes: WebSockets, static files, pages."""
        return []

    async def start(self) -> None:
        """Open connections, start serving tasks; called once in the lifespan."""

    async def stop(self) -> None:
        """Release everything ``start`` took."""

    def jobs(self) -> list[Job]:
        return []


@dataclass(frozen=True)
class BoundApi:
    """An Api paired with the context its handlers take (see :func:`bind`)."""

    endpoints: Sequence[Endpoint[Any]]
    routes: Callable[[Edge], list[Route]]


def bind(api: Api[C], context: C) -> BoundApi:
    """Serve ``api`` with ``context`` passed to each handler; the types must agree."""
    return BoundApi(endpoints=api.endpoints, routes=lambda edge: api.routes(context, edge))
