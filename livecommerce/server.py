"""The uvicorn configuration: one function, used by ``livecommerce serve`` and by the
tests' real server, so what is tested is what runs."""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.types import ASGIApp

from livecommerce.http.protocol import edge_protocol
from livecommerce.settings import Settings

__all__ = ["uvicorn_config"]


def uvicorn_config(
    app: ASGIApp, settings: Settings, *, host: str, port: int, **overrides: Any
) -> uvicorn.Config:
    """uvicorn's ``Config`` for ``app``; ``overrides`` replace single options (tests
    turn protocol pings off and shorten the graceful shutdown)."""
    from livecommerce.hub.wire import HubWebSocketProtocol

    options: dict[str, Any] = dict(
        host=host,
        port=port,
        log_config=None,
        log_level=settings.log_level.lower(),
        # The client's address and scheme from a trusted load balancer (docs/operations.md,
        # "Running several nodes"); uvicorn must not read FORWARDED_ALLOW_IPS on its own.
        proxy_headers=True,
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
        # httptools, with the edge's answers and deadlines (livecommerce.http.protocol).
        http=edge_protocol(header_timeout_s=settings.http_header_timeout_s),
        # What server software answers is nobody's business (and an attacker's hint).
        server_header=False,
        # websockets' sans-I/O protocol: the least memory per connection and a send that
        # does not await unless the socket is backed up (measured: scripts/bench_hub.py);
        # the hub's subclass also lets the fan-out write prebuilt frames to the socket.
        ws=HubWebSocketProtocol
        if settings.hub_ws_impl == "websockets-sansio"
        else settings.hub_ws_impl,
        # Above the hub's own limit, so frames between get an `error too_large`.
        ws_max_size=settings.hub_ws_max_frame_bytes,
        # Every viewer gets the same frames: compressing them once per connection would
        # cost CPU per viewer and a zlib context per socket, for small JSON.
        ws_per_message_deflate=False,
        # Protocol-level ping/pong finds dead peers; every client library answers them.
        ws_ping_interval=settings.hub_ping_interval_s or None,
        ws_ping_timeout=settings.hub_ping_interval_s or None,
        timeout_graceful_shutdown=5,
        backlog=4096,
    )
    options.update(overrides)
    return uvicorn.Config(app, **options)
