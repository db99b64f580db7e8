"""The streaming component: every session's relay, publishers and viewers.

Registries are plain dicts on the event loop; a session's relay exists while
it has a publisher or a viewer here. A show's host publishes to one node, its
origin; any other node serving its viewers pulls it from there
(:mod:`streaming.cascade`), so WHIP and WHEP requests may reach any node.
Resource ids start with this node's id (``<node>.<token>``), so a ``DELETE``
that reaches another node is forwarded to the one serving it.

The component is built with the resource types it serves
(``publisher_type``/``viewer_type``, subclasses of
:class:`~streaming.whip.Publisher` and :class:`~streaming.whep.Viewer`):
the one hook the benchmark uses to serve its decoding baseline
(``scripts/relay_baseline.py``) from the same HTTP endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiortc import RTCConfiguration, RTCSessionDescription

from livecommerce import keys
from livecommerce.components import Component
from livecommerce.errors import Conflict, NotFound
from livecommerce.events import SessionStateChanged
from livecommerce.services import Services
from streaming.cascade import Cascade
from streaming.hls.service import HlsService
from streaming.ice import rtc_configuration
from streaming.ownership import NodeRef, Ownership
from streaming.peer import PeerResource
from streaming.relay import SessionRelay
from streaming.stats import HealthReporter, HealthSampler, MediaHealth, combine, read_nodes
from streaming.whep import Viewer
from streaming.whip import Publisher

__all__ = ["StreamingComponent"]

log = logging.getLogger("livecommerce.streaming")

#: Seconds between health snapshots (the dashboard wants numbers ≤ 2 s old).
HEALTH_INTERVAL_S = 1.0


class StreamingComponent(Component):
    def __init__(
        self,
        services: Services,
        *,
        publisher_type: type[Publisher] = Publisher,
        viewer_type: type[Viewer] = Viewer,
    ) -> None:
        self.services = services
        settings = self.settings = services.settings
        self.publisher_type = publisher_type
        self.viewer_type = viewer_type
        self.configuration: RTCConfiguration = rtc_configuration(settings.ice_servers)
        self.node = NodeRef(
            id=settings.node_id,
            url=settings.node_url or f"http://{settings.host}:{settings.port}",
        )
        self._cascade: Cascade | None = None
        self.relays: dict[int, SessionRelay] = {}
        self.publishers: dict[str, Publisher] = {}
        self.viewers: dict[str, Viewer] = {}
        self._samplers: dict[int, HealthSampler] = {}
        self._latest: dict[int, MediaHealth] = {}
        #: Sessions whose WHIP offer is being answered (a second one gets 409 meanwhile).
        self._claimed: set[int] = set()
        self._reporter: HealthReporter | None = None
        self._health_task: asyncio.Task[None] | None = None
        self._hls: HlsService | None = None

    async def start(self) -> None:
        services = self.services
        self._reporter = HealthReporter(
            services.redis, services.metrics.registry, node_id=self.node.id
        )
        ownership = Ownership(
            services.redis, node=self.node, lease_ms=self.settings.stream_origin_lease_ms
        )
        self._cascade = Cascade(
            self, ownership, settings=self.settings, configuration=self.configuration
        )
        self._hls = HlsService(self.settings, services.redis, services.metrics.registry)
        self._health_task = asyncio.create_task(self._health_loop())
        services.events.subscribe(SessionStateChanged, self._on_session_state)

    async def _on_session_state(self, event: SessionStateChanged) -> None:
        if event.status == "ended":
            await self.end_session(event.session_id)

    async def end_session(self, session_id: int) -> None:
        """Cut the session's publisher and viewers served by this process: an ended
        stream must stop, not just be marked ended. The process that ends a session
        does this at once; every other process within a health tick (see
        :meth:`_end_sessions_ended_elsewhere`)."""
        resources = self._resources_of(session_id)
        if resources:
            log.info("session %s ended: closing %d media peers", session_id, len(resources))
        await asyncio.gather(*(r.close() for r in resources), return_exceptions=True)
        if self._hls is not None:
            await self._hls.finish(session_id)

    async def _end_sessions_ended_elsewhere(self) -> None:
        """The hub mirrors each session's status in Redis (``keys.session_status``)
        wherever it was changed; relays of sessions marked ended stop here too."""
        relayed = sorted(set(self.relays) | set(self.hls.packagers))
        if not relayed:
            return
        # One GET per session (each on its own cluster slot), not one MGET across slots.
        redis = self.services.redis
        statuses = await asyncio.gather(*(redis.get(keys.session_status(s)) for s in relayed))
        for session_id, status in zip(relayed, statuses, strict=True):
            if status == b"ended":
                await self.end_session(session_id)

    @property
    def hls(self) -> HlsService:
        """This node's LL-HLS packagers (built at start)."""
        if self._hls is None:
            raise RuntimeError("the streaming component has not started")
        return self._hls

    @property
    def cascade(self) -> Cascade:
        """This node's part in multi-node shows (built at start)."""
        if self._cascade is None:
            raise RuntimeError("the streaming component has not started")
        return self._cascade

    async def stop(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        if self._cascade is not None:
            await self._cascade.stop()
        resources: list[PeerResource] = [*self.publishers.values(), *self.viewers.values()]
        await asyncio.gather(*(r.close() for r in resources), return_exceptions=True)
        if self._hls is not None:
            await self._hls.stop()
        for relay in self.relays.values():
            relay.close()
        self.relays.clear()

    # --- relays -------------------------------------------------------------

    def relay(self, session_id: int) -> SessionRelay:
        relay = self.relays.get(session_id)
        if relay is None:
            relay = SessionRelay(
                session_id,
                viewer_queue=self.settings.stream_viewer_queue,
                keyframe_interval=self.settings.stream_keyframe_interval_s,
            )
            self.relays[session_id] = relay
            self._samplers[session_id] = HealthSampler(relay)
        return relay

    def publisher_of(self, session_id: int) -> Publisher | None:
        return next((p for p in self.publishers.values() if p.session_id == session_id), None)

    def publishing_here(self, session_id: int) -> bool:
        """Whether the show's host publishes (or is being answered) on this node."""
        return session_id in self._claimed or self.publisher_of(session_id) is not None

    def has_viewers(self, session_id: int) -> bool:
        """Whether anyone (a viewer or an edge pulling from here) watches the show here."""
        return any(v.session_id == session_id for v in self.viewers.values())

    def audience(self, session_id: int) -> list[Viewer]:
        """The show's viewers here, edges pulling from this node left out."""
        return [v for v in self.viewers.values() if v.session_id == session_id and v.edge is None]

    def switch_codec(self, session_id: int, mime: str) -> None:
        """The show's video codec is now ``mime``: viewers switch their senders
        to it; one that did not offer it at all is closed, to reconnect."""
        relay = self.relays.get(session_id)
        if relay is not None:
            relay.video_mime = mime
        stale = [
            v
            for v in self.viewers.values()
            if v.session_id == session_id and not v.use_video_codec(mime)
        ]
        for viewer in stale:
            task = asyncio.ensure_future(viewer.close())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def claim_publishing(self, session_id: int) -> None:
        """Reserve the session's one publisher slot; the caller must call
        :meth:`publish` or :meth:`unclaim` next.

        The caller may publish the show (its host or an admin). A publisher that
        has sent no media for ``STREAM_PUBLISHER_IDLE_S`` is closed and replaced:
        its encoder died without a DELETE (its peer connection may stay up for
        30 s of ICE consent) and the host, who lost its ``Location``, must be able
        to go live again at once. One that still sends keeps the slot (409): a
        second tab or device of the host must not cut a working stream."""
        current = self.publisher_of(session_id)
        if session_id in self._claimed or (
            current is not None and current.idle_s < self.settings.stream_publisher_idle_s
        ):
            raise Conflict(
                f"session {session_id} already has a publisher sending media; "
                "DELETE its WHIP resource first",
                code="already_publishing",
            )
        self._claimed.add(session_id)
        if current is not None:
            log.info(
                "session %s: replacing publisher %s, silent for %.1f s",
                session_id,
                current.id,
                current.idle_s,
            )
            try:
                await current.close()
            except BaseException:
                self.unclaim(session_id)
                raise

    def unclaim(self, session_id: int) -> None:
        self._claimed.discard(session_id)

    async def publish(self, session_id: int, offer: RTCSessionDescription) -> Publisher:
        """Answer a host's WHIP offer (after :meth:`claim_publishing`)."""
        try:
            relay = self.relay(session_id)
            publisher = await self.publisher_type.open(
                offer,
                session_id=session_id,
                relay=relay,
                configuration=self.configuration,
                on_closed=self._closed,
                start_kbps=self.settings.stream_host_start_kbps,
            )
        except BaseException:
            self._forget_if_idle(session_id)
            raise
        finally:
            self._claimed.discard(session_id)
        publisher.id = f"{self.node.id}.{publisher.id}"
        self.publishers[publisher.id] = publisher
        self.hls.attach(session_id, relay)
        if publisher.video_mime is not None:
            # Viewers that connected before this host (or to a host with another
            # codec) switch their senders to its codec; only one that did not
            # offer it at all cannot decode it and is dropped to reconnect.
            stale = [
                v
                for v in self.viewers.values()
                if v.session_id == session_id and not v.use_video_codec(publisher.video_mime)
            ]
            await asyncio.gather(*(v.close() for v in stale), return_exceptions=True)
        log.info("session %s: publishing %s (%s)", session_id, publisher.id, publisher.video_mime)
        return publisher

    async def watch(
        self, session_id: int, offer: RTCSessionDescription, *, edge: str | None = None
    ) -> Viewer:
        """Answer a viewer's WHEP offer (``edge``: the node id of an edge pulling
        the show from here, counted apart from viewers). If the show's host
        publishes on another node, this node starts pulling it."""
        try:
            viewer = await self.viewer_type.open(
                offer,
                session_id=session_id,
                relay=self.relay(session_id),
                configuration=self.configuration,
                on_closed=self._closed,
            )
        except BaseException:
            self._forget_if_idle(session_id)
            raise
        viewer.id = f"{self.node.id}.{viewer.id}"
        viewer.edge = edge
        self.viewers[viewer.id] = viewer
        if not self.publishing_here(session_id):
            self.cascade.wake(session_id)
        return viewer

    def resource(self, kind: type[PeerResource], session_id: int, resource_id: str) -> PeerResource:
        """A live WHIP (``Publisher``) or WHEP (``Viewer``) resource, or 404."""
        table: dict[str, Publisher] | dict[str, Viewer]
        table = self.publishers if kind is Publisher else self.viewers
        found = table.get(resource_id)
        if found is None or found.session_id != session_id:
            raise NotFound(
                f"no {kind.__name__.lower()} resource {resource_id} in session {session_id}"
            )
        return found

    async def _closed(self, resource: PeerResource) -> None:
        self.publishers.pop(resource.id, None)
        self.viewers.pop(resource.id, None)
        self._forget_if_idle(resource.session_id)
        if isinstance(resource, Publisher) and self._cascade is not None:
            try:
                await self._cascade.release_if_unpublished(resource.session_id)
            except Exception:  # Redis down: the lease expires by itself
                log.exception("session %s: origin lease not released", resource.session_id)

    def _resources_of(self, session_id: int) -> list[PeerResource]:
        """The session's publisher and viewers served by this process."""
        return [
            r
            for r in (*self.publishers.values(), *self.viewers.values())
            if r.session_id == session_id
        ]

    def _forget_if_idle(self, session_id: int) -> None:
        relay = self.relays.get(session_id)
        if relay is None or session_id in self._claimed:
            return
        if not self._resources_of(session_id):
            relay.close()
            del self.relays[session_id]
            self._samplers.pop(session_id, None)
            self._latest.pop(session_id, None)
            if self._reporter is not None:
                self._reporter.forget(session_id)
            if self._cascade is not None:
                self._cascade.forget(session_id)

    # --- health ---------------------------------------------------------------

    async def health(self, session_id: int) -> MediaHealth | None:
        """The whole show's health: this node's latest snapshot with who is
        connected here now, plus every other node's (≤ ~1 s old, from Redis);
        None if nothing streams anywhere."""
        local = await self._local_health(session_id)
        now_ms = int(time.time() * 1000)
        others = await read_nodes(self.services.redis, session_id, now_ms=now_ms)
        entries = [e for node, e in others.items() if node != self.node.id]
        if local is not None:
            entries.append((local, self.role(session_id)))
        return combine(entries)

    def role(self, session_id: int) -> str:
        """This node's part in the show: ``origin``, ``edge`` or ``waiting``."""
        if self.publishing_here(session_id):
            return "origin"
        if self._cascade is not None and session_id in self._cascade.upstreams:
            return "edge"
        return "waiting"

    async def _local_health(self, session_id: int) -> MediaHealth | None:
        latest = self._latest.get(session_id)
        sampler = self._samplers.get(session_id)
        if latest is None and sampler is not None:
            latest = self._latest[session_id] = await self._sample(session_id, sampler)
        relay = self.relays.get(session_id)
        if latest is not None and relay is not None:
            # Who is connected is known now; only the rates wait for the next tick.
            viewers = self.audience(session_id)
            latest = latest.model_copy(
                update={
                    "publishing": relay.publishing,
                    "codec": relay.video_mime,
                    "viewers": len(viewers),
                    "viewers_on_media": sum(1 for v in viewers if v.on_media),
                }
            )
        return latest

    async def _sample(self, session_id: int, sampler: HealthSampler) -> MediaHealth:
        publisher = self.publisher_of(session_id)
        packets = await publisher.inbound_stats() if publisher is not None else (0, 0)
        viewers = self.audience(session_id)
        return sampler.sample(
            packets=packets,
            viewers=len(viewers),
            viewers_on_media=sum(1 for v in viewers if v.on_media),
        )

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            try:
                snapshots = [
                    await self._sample(sid, sampler)
                    for sid, sampler in list(self._samplers.items())
                ]
                self._latest.update((h.session_id, h) for h in snapshots)
                if self._reporter is not None:
                    await self._reporter.report([(h, self.role(h.session_id)) for h in snapshots])
                await self._end_sessions_ended_elsewhere()
                await self.cascade.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis down for a moment: keep relaying, report next tick
                log.exception("stream health report failed")
