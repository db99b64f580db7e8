"""A show's video across nodes: three real ``livecommerce serve`` processes behind
nginx (``tests/multinode.py``), real aiortc hosts and viewers decoding real video.

The host publishes to one node (the origin); viewers on the other nodes are served
by edges pulling the show from it. Then nodes die by SIGKILL: an edge (its viewers
reconnect through the load balancer) and the origin (the host republishes through
the load balancer, every viewer that kept its connection gets the new stream).
The times are measured and held to the issue's bounds (3 s, 5 s), scaled by
``TEST_TIME_SCALE`` like every wait in the suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from livecommerce import encoding, keys
from livecommerce.db.engine import Database
from livecommerce.settings import Settings
from streaming.client import post_offer
from tests.multinode import MultiNode
from tests.support import Actors, wait_for
from tests.test_streaming import Host, Watcher, advancing

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module")
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultiNode]:
    with MultiNode(
        settings,
        tmp_path_factory.mktemp("cascade"),
        LOG_LEVEL="INFO",
        STREAM_ORIGIN_LEASE_MS="2000",
    ) as multi:
        yield multi


@pytest.fixture
async def lb(cluster: MultiNode) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as client:
        yield client


@pytest.fixture
async def lb_actors(lb: httpx.AsyncClient, db: Database) -> Actors:
    return Actors(lb, db)


class FollowingViewer:
    """A WHEP viewer that follows docs/streaming.md "Several nodes": when no video
    frame has arrived for 1 s, or its connection failed, it drops its peer
    connection and POSTs a new offer (to the load balancer) until one is answered."""

    STALL_S = 1.0

    def __init__(self, client: httpx.AsyncClient, session_id: int) -> None:
        self.client = client
        self.session_id = session_id
        self.watcher = Watcher()
        self.frames_at: list[float] = []
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self, url: str | None = None) -> None:
        await self._connect(url)
        self._task = asyncio.create_task(self._follow())

    async def _connect(self, url: str | None = None) -> None:
        while True:
            watcher = Watcher()
            base = url or ""
            r = await post_offer(self.client, f"{base}/whep/{self.session_id}", watcher.pc)
            if r.status_code == 201:
                watcher.location = r.headers["location"]
                self.watcher = watcher
                self._count(watcher)
                return
            await watcher.close()
            await asyncio.sleep(0.2)  # the client's retry pace, as documented

    def _count(self, watcher: Watcher) -> None:
        seen = len(watcher.markers)
        loop = asyncio.get_running_loop()

        async def count() -> None:
            nonlocal seen
            while watcher is self.watcher:
                if len(watcher.markers) > seen:
                    self.frames_at.extend([loop.time()] * (len(watcher.markers) - seen))
                    seen = len(watcher.markers)
                await asyncio.sleep(0.02)

        self._counter = asyncio.create_task(count())

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.1)
            last = self.frames_at[-1] if self.frames_at else None
            stalled = last is not None and loop.time() - last > self.STALL_S
            failed = self.watcher.pc.connectionState in ("failed", "closed")
            if stalled or failed:
                old = self.watcher
                self.reconnects += 1
                await self._connect()
                await old.close()

    def frames_after(self, t: float) -> int:
        return sum(1 for at in self.frames_at if at > t)

    def first_frame_after(self, t: float) -> float | None:
        return next((at for at in self.frames_at if at > t), None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.watcher.close()


async def _publish_until_answered(
    client: httpx.AsyncClient, url: str, session_id: int, token: str
) -> tuple[Host, httpx.Response]:
    """What the host page does: POST the offer; on a failure, a new one 0.5 s later."""
    while True:
        host = Host(audio=False)
        r = await post_offer(client, f"{url}/whip/{session_id}", host.pc, token=token)
        if r.status_code == 201:
            return host, r
        await host.close()
        assert r.status_code in (409, 502, 503, 504), r.text
        await asyncio.sleep(0.5)


def _node_of(cluster: MultiNode, node_url: str) -> int:
    return next(i for i, n in enumerate(cluster.nodes) if n.url == node_url)


async def _origin(settings_redis: Any, session_id: int) -> dict[str, Any] | None:
    raw = await settings_redis.get(keys.session_origin(session_id))
    return None if raw is None else dict(encoding.loads(raw))


async def test_viewers_on_other_nodes_decode_the_show_through_edges(
    cluster: MultiNode, lb: httpx.AsyncClient, lb_actors: Actors, redis: Any
) -> None:
    origin, edge1, edge2 = cluster.nodes
    show = await lb_actors.show()
    sid, token = show["id"], show["host"]["token"]
    host = Host(audio=False)
    watchers = [Watcher(), Watcher()]
    try:
        r = await post_offer(lb, f"{origin.url}/whip/{sid}", host.pc, token=token)
        assert r.status_code == 201, r.text
        lease = await _origin(redis, sid)
        assert lease is not None and lease["url"] == origin.url

        for watcher, node in zip(watchers, (edge1, edge2), strict=True):
            r = await post_offer(lb, f"{node.url}/whep/{sid}", watcher.pc)
            assert r.status_code == 201, r.text
            watcher.location = node.url + r.headers["location"]
        # Decoded, non-black, in-order frames on both edges: the markers advance.
        await wait_for(lambda: all(advancing(w.markers, 15) for w in watchers), timeout=15)

        # Every node can tell the origin and the edges.
        nodes = {
            k.decode(): encoding.loads(v)
            for k, v in (await redis.hgetall(keys.session_nodes(sid))).items()
        }
        by_url = {n["url"]: n for n in nodes.values()}
        origin_id = lease["id"]
        assert by_url[origin.url]["role"] == "origin"
        for node in (edge1, edge2):
            assert by_url[node.url]["role"] == "edge" and by_url[node.url]["upstream"] == origin_id

        # One show, not one per node: any node sums the viewers (edges are not viewers).
        async def summed() -> bool:
            body = (await lb.get(f"/api/sessions/{sid}/media")).json()
            return bool(body["viewers_on_media"] == 2 and body["nodes"] == 3 and body["fps"] > 5)

        await wait_for(summed, timeout=10)

        # The host publishing again through another node reaches the origin: a sending
        # publisher keeps its slot (409 from the origin, forwarded).
        second = Host(audio=False)
        try:
            r = await post_offer(lb, f"{edge1.url}/whip/{sid}", second.pc, token=token)
            assert r.status_code == 409 and r.json()["code"] == "already_publishing", r.text
        finally:
            await second.close()

        # A viewer's DELETE that reaches another node is forwarded to the one serving it.
        resource = watchers[0].location.removeprefix(edge1.url)
        r = await lb.delete(f"{edge2.url}{resource}")
        assert r.status_code == 200, r.text
        r = await lb.delete(f"{edge2.url}{resource}")
        assert r.status_code == 404
    finally:
        for watcher in watchers:
            await watcher.close()
        await host.close()
