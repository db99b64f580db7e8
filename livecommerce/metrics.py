"""Prometheus metrics, one registry per app (no process globals)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "HubMetrics", "Metrics"]


class Metrics:
    """Holds the registry; components add their own metrics to ``registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "livecommerce_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "livecommerce_http_request_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.hub = HubMetrics(self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class HubMetrics:
    """The WebSocket hub's numbers for this process (``docs/operations.md``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.connections = Gauge(
            "livecommerce_hub_connections",
            "Open WebSocket connections.",
            registry=registry,
        )
        self.rooms = Gauge(
            "livecommerce_hub_rooms",
            "Sessions with viewers on this process (streams its reader follows).",
            registry=registry,
        )
        self.user_channels = Gauge(
            "livecommerce_hub_user_channels",
            "Users signed in on this process: the user channels it subscribes to.",
            registry=registry,
        )
        self.joins = Counter("livecommerce_hub_joins", "Successful joins.", registry=registry)
        self.closes = Counter(
            "livecommerce_hub_closes",
            "Connections closed by the server, by close code (4008: too slow, 4029: over "
            "the request rate, 4003: banned, 4000: idle, 4011: resync, 1012: restart).",
            ["code"],
            registry=registry,
        )
        self.errors = Counter(
            "livecommerce_hub_errors",
            "Requests answered with an error frame, by error code.",
            ["code"],
            registry=registry,
        )
        self.frames_sent = Counter(
            "livecommerce_hub_frames_sent",
            "Event frames handed to viewers' connections (one per viewer per frame).",
            registry=registry,
        )
        self.fanout_seconds = Histogram(
            "livecommerce_hub_fanout_seconds",
            "Time to hand one read of the session streams to every local viewer.",
            buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
            registry=registry,
        )

    def track(
        self,
        connections: Callable[[], int],
        rooms: Callable[[], int],
        user_channels: Callable[[], int],
    ) -> None:
        """Read the gauges from the hub's own collections at scrape time."""
        self.connections.set_function(connections)
        self.rooms.set_function(rooms)
        self.user_channels.set_function(user_channels)

    def closed(self, code: int | None) -> None:
        """A connection ended; ``code`` is the server's close code (None: the client left)."""
        if code is not None:
            self.closes.labels(str(code)).inc()

    def refused(self, code: str) -> None:
        self.errors.labels(code).inc()
