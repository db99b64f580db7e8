"""Stream health per session, for the moderators' dashboard and for Prometheus.

:class:`HealthSampler` turns a relay's monotonic counters into rates once per
tick; :class:`HealthReporter` writes each session's snapshot on this node to
Redis (``lc:{s:<id>}:medianodes``, one field per node) and the whole show's,
summed over every node that serves it (:func:`combine`), to
``lc:{s:<id>}:media`` (expiring, so a dead relay's numbers disappear instead of
going stale), and this node's figures to gauges labelled by session.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

from livecommerce import encoding, keys
from streaming.relay import SessionRelay

__all__ = [
    "HEALTH_TTL_MS",
    "HealthReporter",
    "HealthSampler",
    "MediaHealth",
    "NodeHealth",
    "combine",
    "read_nodes",
]

#: The Redis hash outlives its last write by this much.
HEALTH_TTL_MS = 5000


class MediaHealth(BaseModel):
    """One session's stream health: kept in Redis, served by the media endpoint."""

    model_config = ConfigDict(frozen=True)

    session_id: int
    publishing: bool
    codec: str | None
    bitrate_bps: int
    fps: float
    packets_received: int
    packets_lost: int
    #: Lost / expected over the last tick (0..1).
    loss_fraction: float
    keyframes: int
    viewers: int
    viewers_on_media: int
    updated_ms: int
    #: Nodes serving the show's video (its origin and its edges).
    nodes: int = 1

    @classmethod
    def idle(cls, session_id: int) -> MediaHealth:
        """A session where nothing streams."""
        return cls(
            session_id=session_id,
            publishing=False,
            codec=None,
            bitrate_bps=0,
            fps=0.0,
            packets_received=0,
            packets_lost=0,
            loss_fraction=0.0,
            keyframes=0,
            viewers=0,
            viewers_on_media=0,
            updated_ms=0,
            nodes=0,
        )

    def to_redis(self) -> dict[str, str]:
        return {
            k: ("1" if v is True else "0" if v is False else "" if v is None else str(v))
            for k, v in self.model_dump().items()
            if k != "session_id"
        }


#: ``(snapshot, role)`` of a show on one node; role: ``origin``, ``edge`` or ``waiting``.
NodeHealth = tuple[MediaHealth, str]


def combine(entries: list[NodeHealth]) -> MediaHealth | None:
    """The whole show from its nodes' snapshots: the host's figures from the
    origin (an edge's when no origin reported), viewers summed."""
    if not entries:
        return None
    ranked = sorted(entries, key=lambda e: (e[1] != "origin", not e[0].publishing))
    host = ranked[0][0]
    return host.model_copy(
        update={
            "viewers": sum(h.viewers for h, _ in entries),
            "viewers_on_media": sum(h.viewers_on_media for h, _ in entries),
            "nodes": sum(1 for h, role in entries if role != "waiting" or h.viewers),
            "updated_ms": max(h.updated_ms for h, _ in entries),
        }
    )


def _decode(raw: bytes | str) -> NodeHealth:
    doc: dict[str, Any] = encoding.loads(raw)
    role = str(doc.pop("role", "edge"))
    return MediaHealth.model_validate(doc), role


async def read_nodes(redis: Redis, session_id: int, *, now_ms: int) -> dict[str, NodeHealth]:
    """The show's fresh per-node snapshots (≤ ``HEALTH_TTL_MS`` old), by node id."""
    raw = await redis.hgetall(keys.session_media_nodes(session_id))
    found = {}
    for node, value in raw.items():
        entry = _decode(value)
        if now_ms - entry[0].updated_ms <= HEALTH_TTL_MS:
            found[node.decode() if isinstance(node, bytes) else str(node)] = entry
    return found


class HealthSampler:
    """Rates of one relay between two :meth:`sample` calls."""

    def __init__(self, relay: SessionRelay) -> None:
        self.relay = relay
        self._at: float | None = None
        self._bytes = 0
        self._frames = 0
        self._received = 0
        self._lost = 0

    def sample(
        self,
        *,
        packets: tuple[int, int],
        viewers: int,
        viewers_on_media: int,
        now: float | None = None,
    ) -> MediaHealth:
        """``packets``: the publisher's ``(received, lost)`` totals so far."""
        now = time.monotonic() if now is None else now
        relay = self.relay
        received, lost = packets
        bitrate = fps = loss = 0.0
        if self._at is not None and now > self._at:
            elapsed = now - self._at
            bitrate = (relay.video_bytes - self._bytes) * 8 / elapsed
            fps = (relay.video_frames - self._frames) / elapsed
            got, missed = received - self._received, lost - self._lost
            if got + missed > 0 and missed > 0:
                loss = missed / (got + missed)
        self._at = now
        self._bytes, self._frames = relay.video_bytes, relay.video_frames
        self._received, self._lost = received, lost
        return MediaHealth(
            session_id=relay.session_id,
            publishing=relay.publishing,
            codec=relay.video_mime,
            bitrate_bps=int(bitrate),
            fps=round(fps, 2),
            packets_received=received,
            packets_lost=lost,
            loss_fraction=round(loss, 4),
            keyframes=relay.keyframes_in,
            viewers=viewers,
            viewers_on_media=viewers_on_media,
            updated_ms=int(time.time() * 1000),
        )


class HealthReporter:
    """Publishes snapshots; call :meth:`forget` when a session's relay goes away."""

    def __init__(self, redis: Redis, registry: CollectorRegistry, *, node_id: str) -> None:
        self.redis = redis
        self.node_id = node_id
        labels = ["session"]
        self.bitrate = Gauge(
            "livecommerce_stream_inbound_bitrate_bps",
            "Host video bitrate into the relay, bits/s.",
            labels,
            registry=registry,
        )
        self.fps = Gauge(
            "livecommerce_stream_inbound_fps", "Host video frames/s.", labels, registry=registry
        )
        self.lost = Gauge(
            "livecommerce_stream_packets_lost",
            "RTP packets lost from the host since it started publishing.",
            labels,
            registry=registry,
        )
        self.keyframes = Gauge(
            "livecommerce_stream_keyframes",
            "Keyframes received from the host since the relay started.",
            labels,
            registry=registry,
        )
        self.viewers = Gauge(
            "livecommerce_stream_viewers_on_media",
            "WHEP viewers receiving decodable video.",
            labels,
            registry=registry,
        )
        self._gauges = (self.bitrate, self.fps, self.lost, self.keyframes, self.viewers)

    async def report(self, entries: list[NodeHealth]) -> None:
        """Write this node's snapshots, then each show's sum over its nodes."""
        if not entries:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for h, role in entries:
                key = keys.session_media_nodes(h.session_id)
                doc = {**h.model_dump(), "role": role}
                pipe.hset(key, self.node_id, encoding.dumps(doc))
                pipe.pexpire(key, HEALTH_TTL_MS)
                pipe.hgetall(key)
            replies = await pipe.execute()
        now_ms = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            for (h, _), every in zip(entries, replies[2::3], strict=True):
                fresh, stale = [], []
                for node, value in every.items():
                    entry = _decode(value)
                    if now_ms - entry[0].updated_ms <= HEALTH_TTL_MS:
                        fresh.append(entry)
                    else:
                        stale.append(node)
                if stale:
                    pipe.hdel(keys.session_media_nodes(h.session_id), *stale)
                total = combine(fresh)
                if total is not None:
                    key = keys.session_media(h.session_id)
                    pipe.hset(key, mapping=total.to_redis())  # type: ignore[arg-type]
                    pipe.pexpire(key, HEALTH_TTL_MS)
            await pipe.execute()
        for h, _ in entries:
            label = str(h.session_id)
            self.bitrate.labels(label).set(h.bitrate_bps)
            self.fps.labels(label).set(h.fps)
            self.lost.labels(label).set(h.packets_lost)
            self.keyframes.labels(label).set(h.keyframes)
            self.viewers.labels(label).set(h.viewers_on_media)

    def forget(self, session_id: int) -> None:
        for gauge in self._gauges:
            try:
                gauge.remove(str(session_id))
            except KeyError:
                pass
