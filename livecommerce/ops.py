"""Operational endpoints: liveness, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from starlette.responses import Response

from livecommerce.api.routing import Api, Call, JSONResponse
from livecommerce.metrics import CONTENT_TYPE_LATEST
from livecommerce.services import Services

__all__ = ["api"]

api: Api[Services] = Api(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    redis: str


@api.route("GET", "/healthz", summary="The process is up", response=Health)
async def healthz(services: Services, call: Call) -> Health:
    return Health(status="ok")


@api.route(
    "GET", "/readyz", summary="The database and Redis answer", response=Readiness, errors=[503]
)
async def readyz(services: Services, call: Call) -> Response:

    async def check(probe: object) -> str:
        try:
            await asyncio.wait_for(probe, timeout=2.0)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            return f"error: {type(exc).__name__}"
        return "ok"

    database = await check(services.db.ping())
    redis = await check(services.redis.ping())
    ok = database == "ok" and redis == "ok"
    body = Readiness(status="ok" if ok else "unavailable", database=database, redis=redis)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@api.route("GET", "/metrics", summary="Prometheus metrics", response_media_type=CONTENT_TYPE_LATEST)
async def metrics(services: Services, call: Call) -> Response:
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@api.route(
    "GET",
    "/openapi.json",
    summary="This document (OpenAPI 3.1)",
    response_media_type="application/json",
)
async def openapi(services: Services, call: Call) -> Response:
    return JSONResponse(call.request.app.state.openapi)
