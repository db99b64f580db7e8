"""``create_app(settings)``: builds the Starlette app and, in its lifespan, everything it uses."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from livecommerce import ops
from livecommerce.accounts import api as accounts_api
from livecommerce.api.openapi import openapi_document
from livecommerce.api.routing import Api, JSONResponse
from livecommerce.catalog import api as catalog_api
from livecommerce.components import Component
from livecommerce.db.engine import Database
from livecommerce.errors import LivecommerceError
from livecommerce.http.security import ProblemCORSMiddleware, SecurityHeaders, cors_options
from livecommerce.live import api as live_api
from livecommerce.metrics import Metrics
from livecommerce.observability import RequestObserver
from livecommerce.services import Services
from livecommerce.settings import Settings
from livecommerce.valkey import EmbeddedValkey

__all__ = ["create_app", "default_components", "open_redis"]

log = logging.getLogger("livecommerce")

VERSION = "0.1.0"


def default_components(settings: Settings) -> list[Component]:
    """The parts that make up a full server, in start order."""
    from cart.component import CartComponent
    from livecommerce.dashboard.component import Dashboard
    from livecommerce.hub.component import Hub
    from livecommerce.moderation.component import Moderation
    from livecommerce.web.component import WebPages
    from streaming.component import StreamingComponent

    return [
        Hub(),
        StreamingComponent(settings),
        CartComponent(settings),
        Moderation(),
        Dashboard(),
        WebPages(),
    ]


def core_apis() -> list[Api]:
    return [ops.api, accounts_api.api, catalog_api.api, live_api.api]


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
    """Connect to ``REDIS_URL``, or start a private valkey-server and connect to it."""
    url = settings.redis_url
    if url is None:
        valkey = EmbeddedValkey(settings.data_dir / "valkey")
        url = await valkey.astart()
        stack.push_async_callback(valkey.astop)
        log.info("started private valkey-server at %s", url)
    redis = Redis.from_url(
        url,
        decode_responses=False,
        max_connections=512,
        health_check_interval=0,
        socket_timeout=settings.redis_socket_timeout_s or None,
    )
    stack.push_async_callback(redis.aclose)
    return redis


def create_app(
    settings: Settings,
    *,
    components: Sequence[Component] | None = None,
    run_jobs: bool | None = None,
) -> Starlette:
    """Build the app. ``components`` defaults to :func:`default_components`;
    ``run_jobs`` (default: ``settings.embedded_worker``) runs background jobs in-process."""
    parts = list(default_components(settings) if components is None else components)
    apis = core_apis() + [c.api for c in parts if c.api is not None]
    routes: list[BaseRoute] = [r for api in apis for r in api.routes()]
    for part in parts:
        routes.extend(part.routes())
    metrics = Metrics()
    jobs_enabled = settings.embedded_worker if run_jobs is None else run_jobs

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            redis = await open_redis(settings, stack)
            db = Database(settings.database_url)
            stack.push_async_callback(db.dispose)
            services = Services(settings=settings, db=db, redis=redis, metrics=metrics)
            stack.push_async_callback(services.mux.aclose)
            app.state.services = services
            for part in parts:
                services.register(part)
            for part in parts:
                await part.start(services)
                stack.push_async_callback(part.stop)
            if jobs_enabled:
                tasks = [asyncio.create_task(job()) for part in parts for job in part.jobs()]
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
    app.add_middleware(RequestObserver, metrics=metrics)
    return app


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
