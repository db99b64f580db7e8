"""``create_app(settings)``: builds the Starlette app and, in its lifespan, everything it uses."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cart import api as cart_api
from cart import earnings_api
from cart.brand import api as brand_api
from cart.component import CartComponent
from livecommerce import ops, redisclient
from livecommerce.accounts import api as accounts_api
from livecommerce.api.openapi import openapi_document
from livecommerce.api.routing import Edge, JSONResponse
from livecommerce.catalog import api as catalog_api
from livecommerce.clock import Clock
from livecommerce.components import BoundApi, Component, bind
from livecommerce.creators import api as creators_api
from livecommerce.creators import collab_api, market_api
from livecommerce.creators.component import CreatorsComponent
from livecommerce.dashboard import api as dashboard_api
from livecommerce.dashboard.component import Dashboard
from livecommerce.errors import LivecommerceError
from livecommerce.http.security import ProblemCORSMiddleware, SecurityHeaders, cors_options
from livecommerce.hub import api as hub_api
from livecommerce.hub.component import Hub
from livecommerce.live import api as live_api
from livecommerce.moderation import api as moderation_api
from livecommerce.observability import RequestObserver
from livecommerce.replay import api as replay_api
from livecommerce.replay.component import Replays
from livecommerce.services import Services
from livecommerce.settings import Settings
from livecommerce.valkey import EmbeddedValkey
from livecommerce.web import shortlinks
from livecommerce.web.biopage import BioPage
from livecommerce.web.component import WebPages
from streaming import api as streaming_api
from streaming import hls_api
from streaming.component import StreamingComponent
from streaming.hls.store import DirectoryStore

__all__ = ["Parts", "PartsFactory", "create_app", "default_parts", "open_redis"]

log = logging.getLogger("livecommerce")

VERSION = "0.1.0"


@dataclass(frozen=True)
class Parts:
    """What a server is made of: its components, in start order, and their APIs."""

    components: Sequence[Component]
    apis: Sequence[BoundApi] = ()


#: Builds the parts of an app from its services (tests and benchmarks pass their own).
PartsFactory = Callable[[Services], Parts]


def default_parts(services: Services, *, streaming: StreamingComponent | None = None) -> Parts:
    """The parts that make up a full server, each built with what it uses
    (``streaming``: a relay of the caller's, as the relay benchmark's baseline)."""
    hub = Hub(services)
    streaming = streaming or StreamingComponent(services)
    cart = CartComponent(services)
    dashboard = Dashboard(services, hub)
    replays = Replays(services, DirectoryStore(services.settings.media_root))
    creators = CreatorsComponent(services)
    return Parts(
        components=[
            hub,
            streaming,
            cart,
            dashboard,
            replays,
            creators,
            WebPages(services.settings),
            BioPage(services, has_replay=replays.has_replay),
        ],
        apis=[
            bind(creators_api.api, creators),
            bind(shortlinks.api, creators),
            bind(hub_api.api, hub),
            bind(streaming_api.api, streaming),
            bind(hls_api.api, streaming),
            bind(cart_api.api, cart),
            bind(earnings_api.api, cart),
            bind(brand_api.api, cart),
            bind(moderation_api.api, services),
            bind(dashboard_api.api, dashboard),
            bind(replay_api.api, replays),
        ],
    )


def core_apis(services: Services) -> list[BoundApi]:
    """The HTTP API every server has, whatever its parts."""
    return [
        bind(ops.api, services),
        bind(accounts_api.api, services),
        bind(catalog_api.api, services),
        bind(live_api.api, services),
        bind(collab_api.api, services),
        bind(market_api.api, services),
    ]


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


async def _problem(request: Request, exc: Exception) -> Response:
    # async on purpose: Starlette runs a sync handler in a worker thread, a thread hop
    # per error reply (a flash sale's "sold out" is one), and the first such hop
    # imported anyio's thread machinery mid-sale (~0.25 s stall per process, py-spy).
    if isinstance(exc, LivecommerceError):
        error = exc
    elif isinstance(exc, HTTPException):
        error = LivecommerceError(str(exc.detail))
        error.status, error.code, error.title = (
            exc.status_code,
            _code(exc.status_code),
            str(exc.detail),
        )
        if exc.status_code == 404:
            error.detail = f"no route matches {request.method} {request.url.path}"
        elif exc.status_code == 405:
            error.detail = f"{request.method} is not allowed on {request.url.path}"
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = LivecommerceError("an internal error occurred; it has been logged")
    headers = getattr(exc, "headers", None)
    return ProblemResponse(
        error.problem(instance=request.url.path), status_code=error.status, headers=headers
    )


def _code(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")


async def open_redis(settings: Settings, stack: contextlib.AsyncExitStack) -> Redis:
    """Connect to ``REDIS_URL`` (one server, or a cluster: :mod:`livecommerce.redisclient`),
    or start a private valkey-server and connect to it."""
    url = settings.redis_url
    if url is None:
        valkey = EmbeddedValkey(settings.data_dir / "valkey")
        url = await valkey.astart()
        stack.push_async_callback(valkey.astop)
        log.info("started private valkey-server at %s", url)
    redis = redisclient.connect(
        url,
        decode_responses=False,
        max_connections=settings.redis_max_connections,
        health_check_interval=0,
        socket_timeout=settings.redis_socket_timeout_s or None,
    )
    stack.push_async_callback(redis.aclose)
    return redis


def create_app(
    settings: Settings,
    *,
    parts: PartsFactory = default_parts,
    run_jobs: bool | None = None,
    clock: Clock | None = None,
) -> Starlette:
    """Build the app: the composition root, the one place that knows every part.
    ``parts`` defaults to :func:`default_parts`; ``run_jobs`` (default:
    ``settings.embedded_worker``) runs background jobs in-process; ``clock`` (default:
    one moved by ``settings.clock_offset_s``) is the app's wall clock, a test's to move."""
    services = Services(settings, clock=clock)
    built = parts(services)
    apis = core_apis(services) + list(built.apis)
    edge = Edge(tokens=services.tokens, max_body_bytes=settings.http_max_body_bytes)
    routes: list[BaseRoute] = [r for api in apis for r in api.routes(edge)]
    for component in built.components:
        routes.extend(component.routes())
    jobs_enabled = settings.embedded_worker if run_jobs is None else run_jobs

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await services.open(stack, open_redis)
            for component in built.components:
                await component.start()
                stack.push_async_callback(component.stop)
            if jobs_enabled:
                tasks = [
                    asyncio.create_task(job())
                    for component in built.components
                    for job in component.jobs()
                ]
                stack.push_async_callback(_cancel, tasks)
            # Everything built so far lives as long as the process: move it out of the
            # collector's sight, so a full collection during a burst scans only what
            # requests allocate (measured: 65-90 ms full collections before, mid-sale).
            gc.freeze()
            yield

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            Exception: _problem,
            HTTPException: _problem,
            LivecommerceError: _problem,
        },
    )
    app.state.openapi = openapi_document(
        [e for api in apis for e in api.endpoints],
        title="livecommerce",
        version=VERSION,
        description="Live-stream shopping backend. Errors are RFC 9457 problem documents.",
    )
    # Outermost last: the observer sees (and ids) everything, CORS answers preflights
    # before routing, every response gets the security headers.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ProblemCORSMiddleware, **cors_options(settings))
    app.add_middleware(RequestObserver, metrics=services.metrics)
    return app


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
