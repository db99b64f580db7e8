"""This node's HLS packagers: one per show whose host publishes here (its origin).

The streaming component calls :meth:`HlsService.attach` when a host starts
publishing (again) and :meth:`HlsService.finish` when the show ends; the HTTP
endpoints (:mod:`streaming.hls.api`) read :meth:`get` and the store.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CollectorRegistry, Counter, Histogram
from redis.asyncio import Redis

from livecommerce import keys
from livecommerce.settings import Settings
from streaming.hls.packager import ShowPackager
from streaming.hls.store import DirectoryStore, MediaStore
from streaming.relay import SessionRelay

__all__ = ["HlsService"]

log = logging.getLogger("livecommerce.streaming")


class HlsService:
    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        registry: CollectorRegistry,
        *,
        store: MediaStore | None = None,
    ) -> None:
        self.enabled = settings.hls_enabled
        self.part_target = settings.hls_part_target_s
        self.segment_target = settings.hls_segment_target_s
        self.store: MediaStore = store or DirectoryStore(settings.media_root)
        self.redis = redis
        self.packagers: dict[int, ShowPackager] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Requests answered by this node (behind a CDN: what reaches the origin).
        self.requests = Counter(
            "livecommerce_hls_requests",
            "HLS requests this node answered, by kind (playlist, part, segment, init, vod).",
            ["kind"],
            registry=registry,
        )
        self.latency = Histogram(
            "livecommerce_hls_part_latency_seconds",
            "Seconds from a video frame reaching the packager to its part being fetchable.",
            buckets=(0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0),
            registry=registry,
        )
        self.parts = Counter(
            "livecommerce_hls_parts", "LL-HLS parts the packagers wrote.", registry=registry
        )
        self.cpu = Counter(
            "livecommerce_hls_packager_cpu_seconds",
            "CPU seconds the packagers spent (remuxing; encoding VP8 hosts' video; audio).",
            registry=registry,
        )
        self.audio_cpu = Counter(
            "livecommerce_hls_audio_cpu_seconds",
            "CPU seconds of those spent on audio (Opus decoded, AAC encoded, once per show).",
            registry=registry,
        )

    def get(self, session_id: int) -> ShowPackager | None:
        return self.packagers.get(session_id)

    def attach(self, session_id: int, relay: SessionRelay) -> None:
        """The show's host publishes into ``relay`` here: package its video."""
        if not self.enabled:
            return
        packager = self.packagers.get(session_id)
        if packager is None or packager.timeline.ended:
            packager = ShowPackager(
                session_id,
                self.store,
                part_target=self.part_target,
                segment_target=self.segment_target,
                on_start=lambda ms: self._record_start(session_id, ms),
                on_part=self._observe,
            )
            self.packagers[session_id] = packager
            log.info("session %s: HLS packager on", session_id)
        packager.attach(relay)

    def _observe(self, latencies: list[float], cpu_s: float, audio_cpu_s: float) -> None:
        self.parts.inc()  # one call per frame that completed a part
        for seconds in latencies:
            self.latency.observe(seconds)
        self.cpu.inc(cpu_s)
        self.audio_cpu.inc(audio_cpu_s)

    def _record_start(self, session_id: int, at_ms: int) -> None:
        async def record() -> None:
            try:
                await self.redis.set(keys.session_stream_start(session_id), at_ms, nx=True)
            except Exception:  # Redis down: positions count from the live start meanwhile
                log.exception("session %s: stream start not recorded", session_id)

        task = asyncio.create_task(record())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def finish(self, session_id: int) -> None:
        """The show ended: its packager writes the VOD playlist and the index."""
        packager = self.packagers.pop(session_id, None)
        if packager is not None:
            await packager.finish()
            log.info(
                "session %s: HLS ended, %d segments",
                session_id,
                len(packager.timeline.segments),
            )

    async def stop(self) -> None:
        packagers = list(self.packagers.values())
        self.packagers.clear()
        await asyncio.gather(*(p.close() for p in packagers), return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)
