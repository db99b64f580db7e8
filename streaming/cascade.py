"""The relay cascade: this node's part in shows served by several nodes.

For each show with a relay here, once a second (:meth:`Cascade.tick`):

- **origin** (its host publishes here): refresh the origin lease
  (:mod:`streaming.ownership`) and the node entry;
- **edge** (local viewers, host elsewhere): make sure the show is pulled
  (:class:`~streaming.edge.Upstream`) from the current origin, or from an edge
  when the origin has ``STREAM_ORIGIN_MAX_EDGES`` already; pull again when the
  origin changes (the host republished elsewhere) or the upstream disappears,
  while local viewers keep their peer connections (the relay gets a new feed
  and asks it for a keyframe); stop pulling when the last local viewer leaves;
- **waiting** (viewers, no origin yet): start pulling as soon as an origin
  appears.

It also forwards requests that another node must answer: a WHIP offer while a
live origin holds the lease elsewhere, and a ``DELETE`` of a resource that
another node serves (resource ids start with the serving node's id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Protocol

import httpx
from aiortc import RTCConfiguration
from starlette.responses import Response

from livecommerce.errors import Conflict, NotFound, Unavailable
from livecommerce.settings import Settings
from streaming.edge import Upstream, UpstreamRefused, edge_claim
from streaming.ownership import NodeRef, Ownership
from streaming.relay import SessionRelay

__all__ = ["FORWARDED_HEADER", "Cascade", "Relays"]

log = logging.getLogger("livecommerce.streaming")

#: Set on a request one node forwards to another (which must not forward it again).
FORWARDED_HEADER = "X-Livecommerce-Forwarded"
#: Headers of a forwarded request or answer that travel with it.
_REQUEST_HEADERS = ("authorization", "content-type")
_RESPONSE_HEADERS = ("location", "etag", "content-type", "allow", "retry-after")


class Relays(Protocol):
    """What the cascade needs of the streaming component (which builds it)."""

    @property
    def relays(self) -> Mapping[int, SessionRelay]: ...

    def relay(self, session_id: int) -> SessionRelay: ...

    def publishing_here(self, session_id: int) -> bool: ...

    def has_viewers(self, session_id: int) -> bool: ...

    def switch_codec(self, session_id: int, mime: str) -> None: ...


class Cascade:
    """Built by the streaming component at start; ``stop()`` at its stop."""

    def __init__(
        self,
        component: Relays,
        ownership: Ownership,
        *,
        settings: Settings,
        configuration: RTCConfiguration,
    ) -> None:
        self.component = component
        self.ownership = ownership
        self.node: NodeRef = ownership.node
        self.max_edges = settings.stream_origin_max_edges
        self.secret = settings.secret_key
        self.configuration = configuration
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=1.0))
        self.upstreams: dict[int, Upstream] = {}
        #: The origin each upstream was chosen for (a new origin means a new pull).
        self._origin_of: dict[int, str] = {}
        #: Shows whose origin lease this node holds.
        self.origins: set[int] = set()
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    # --- origin ---------------------------------------------------------------

    async def claim_origin(self, session_id: int) -> NodeRef | None:
        """Take the show's origin lease for a host publishing here; the node
        that holds it instead, if any (forward the WHIP offer there)."""
        holder = await self.ownership.claim_origin(session_id)
        if holder is None:
            self.origins.add(session_id)
            await self._close_upstream(session_id)  # the host is here now: no pulling
            await self.ownership.register(session_id, role="origin", upstream=None)
        return holder

    async def release_if_unpublished(self, session_id: int) -> None:
        """The show's publisher here is gone: give its lease back at once, so the
        host can publish on any node without waiting for the lease to expire."""
        if session_id in self.origins and not self.component.publishing_here(session_id):
            self.origins.discard(session_id)
            await self.ownership.release_origin(session_id)

    # --- edge -----------------------------------------------------------------

    def wake(self, session_id: int) -> None:
        """Pull the show if it needs pulling (a viewer joined, an upstream closed)."""
        if self._stopping:
            return
        task = asyncio.create_task(self._ensure_upstream(session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ensure_upstream(self, session_id: int) -> None:
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            try:
                await self._pull_if_needed(session_id)
            except (httpx.HTTPError, UpstreamRefused, OSError) as exc:
                log.warning("session %s: cannot pull from upstream: %s", session_id, exc)
            except Exception:  # Redis down for a moment: the next tick tries again
                log.exception("session %s: pulling failed", session_id)

    async def _pull_if_needed(self, session_id: int) -> None:
        component = self.component
        if (
            self._stopping
            or component.publishing_here(session_id)
            or session_id not in component.relays
            or not component.has_viewers(session_id)
        ):
            return
        origin = await self.ownership.origin(session_id)
        current = self.upstreams.get(session_id)
        if origin is None or origin.id == self.node.id:
            if current is not None:
                log.info("session %s: origin gone, waiting for the host", session_id)
                await self._close_upstream(session_id)
            return
        if current is not None and not current.closed:
            if self._origin_of.get(session_id) == origin.id and (
                current.source.id == origin.id or await self._alive(session_id, current.source)
            ):
                return
            log.info("session %s: origin moved to node %s, pulling again", session_id, origin.id)
            await self._close_upstream(session_id)
        source = await self.ownership.pick_upstream(session_id, origin, max_edges=self.max_edges)
        upstream = await Upstream.open(
            session_id=session_id,
            source=source,
            relay=component.relay(session_id),
            configuration=self.configuration,
            http=self.http,
            claim=edge_claim(self.secret, session_id, self.node.id),
            on_closed=self._upstream_closed,
            on_codec=component.switch_codec,
        )
        if (
            self._stopping
            or component.publishing_here(session_id)  # the host came here meanwhile
            or session_id not in component.relays  # everybody left while we connected
            or not component.has_viewers(session_id)
        ):
            await upstream.close()
            return
        upstream.attach()
        self.upstreams[session_id] = upstream
        self._origin_of[session_id] = origin.id
        if upstream.video_mime is not None:
            component.switch_codec(session_id, upstream.video_mime)
        await self.ownership.register(session_id, role="edge", upstream=source.id)

    async def _alive(self, session_id: int, node: NodeRef) -> bool:
        return any(e.node.id == node.id for e in await self.ownership.nodes(session_id))

    async def _upstream_closed(self, upstream: Upstream) -> None:
        session_id = upstream.session_id
        if self.upstreams.get(session_id) is upstream:
            del self.upstreams[session_id]
            self._origin_of.pop(session_id, None)
            self.wake(session_id)  # viewers still here: pull from wherever the show is now

    async def _close_upstream(self, session_id: int) -> None:
        upstream = self.upstreams.pop(session_id, None)
        self._origin_of.pop(session_id, None)
        if upstream is not None:
            await upstream.close()

    def forget(self, session_id: int) -> None:
        """The show's relay here is gone (nobody left): stop pulling, unregister."""
        if self._stopping:
            return
        task = asyncio.create_task(self._forget(session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forget(self, session_id: int) -> None:
        await self._close_upstream(session_id)
        with contextlib.suppress(Exception):
            await self.release_if_unpublished(session_id)
            await self.ownership.unregister(session_id)
        self._locks.pop(session_id, None)

    # --- every second -----------------------------------------------------------

    async def tick(self) -> None:
        component = self.component
        for session_id in list(component.relays):
            if component.publishing_here(session_id):
                refreshed = session_id in self.origins and await self.ownership.refresh_origin(
                    session_id
                )
                if not refreshed and await self.claim_origin(session_id) is not None:
                    # Redis lost the lease and another node's host took it meanwhile.
                    log.warning("session %s: published here, origin lease elsewhere", session_id)
                await self.ownership.register(session_id, role="origin", upstream=None)
                continue
            if not component.has_viewers(session_id):
                continue
            self.wake(session_id)
            upstream = self.upstreams.get(session_id)
            await self.ownership.register(
                session_id,
                role="edge" if upstream is not None else "waiting",
                upstream=upstream.source.id if upstream is not None else None,
            )
        for session_id in list(self.origins):
            await self.release_if_unpublished(session_id)

    # --- forwarding -------------------------------------------------------------

    async def forward(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        content: bytes = b"",
    ) -> Response:
        """Send one request on to the node that must answer it, and its answer back."""
        sent = {k: v for k, v in headers.items() if k.lower() in _REQUEST_HEADERS}
        sent[FORWARDED_HEADER] = self.node.id
        try:
            answer = await self.http.request(method, url, content=content, headers=sent)
        except httpx.HTTPError as exc:
            error = Unavailable(
                "the node serving this show does not answer; try again in a second",
                code="node_unavailable",
            )
            error.headers = {"Retry-After": "1"}
            raise error from exc
        back = {k: v for k, v in answer.headers.items() if k.lower() in _RESPONSE_HEADERS}
        return Response(content=answer.content, status_code=answer.status_code, headers=back)

    async def forward_publish(
        self, session_id: int, holder: NodeRef, *, headers: dict[str, str], content: bytes
    ) -> Response:
        """A WHIP offer for a show whose live origin is ``holder``."""
        if FORWARDED_HEADER.lower() in {k.lower() for k in headers}:
            raise Conflict(
                "the show's origin moved while this offer was forwarded; POST it again",
                code="origin_moved",
            )
        log.info("session %s: WHIP offer forwarded to origin node %s", session_id, holder.id)
        return await self.forward(
            "POST", f"{holder.url}/whip/{session_id}", headers=headers, content=content
        )

    async def forward_delete(
        self, session_id: int, kind: str, resource_id: str, *, headers: dict[str, str]
    ) -> Response:
        """``DELETE /<kind>/<session>/<resource>`` of a resource another node serves."""
        node_id = resource_id.partition(".")[0]
        url = await self.ownership.url_of(session_id, node_id)
        if url is None or FORWARDED_HEADER.lower() in {k.lower() for k in headers}:
            raise NotFound(f"no {kind} resource {resource_id} in session {session_id}")
        return await self.forward(
            "DELETE", f"{url}/{kind}/{session_id}/{resource_id}", headers=headers
        )

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(
            *(u.close() for u in list(self.upstreams.values())), return_exceptions=True
        )
        for session_id in list(self.origins):
            with contextlib.suppress(Exception):
                await self.ownership.release_origin(session_id)
        for session_id in list(self.component.relays):
            with contextlib.suppress(Exception):
                await self.ownership.unregister(session_id)
        await self.http.aclose()
