"""Request ids, structured (JSON) logs and per-route HTTP metrics: one ASGI middleware."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livecommerce import encoding
from livecommerce.metrics import Metrics

__all__ = ["JsonFormatter", "RequestObserver", "configure_logging", "request_id"]

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            doc["request_id"] = rid
        for key in ("route", "method", "status", "ms", "session_id", "user_id"):
            value = record.__dict__.get(key)
            if value is not None:
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return encoding.dumps(doc).decode()


#: Libraries whose INFO lines are chatter about their own internals (aioice logs every
#: candidate pair check: over half of a streaming server's log), held at
#: ``LIBRARY_LOG_LEVEL`` instead of ``LOG_LEVEL``.
CHATTY_LIBRARIES = ("aioice", "aiortc")


def configure_logging(level: str, *, library_level: str = "WARNING") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(library_level)
    # uvicorn's access log repeats what we log per request, without the request id.
    logging.getLogger("uvicorn.access").disabled = True


class RequestObserver:
    """Gives each HTTP request an id (``X-Request-ID``, honoured if sent), logs it
    and records count and latency by route template."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("livecommerce.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.http_requests.labels(template, method, str(status)).inc()
            self.metrics.http_latency.labels(template, method).observe(elapsed)
            self.log.info(
                "%s %s %s",
                method,
                scope["path"],
                status,
                extra={
                    "route": template,
                    "method": method,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                },
            )
            request_id.reset(token)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if 0 < len(text) <= 64 and text.isascii():
                return text
    return None
