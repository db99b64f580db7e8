"""The relay cascade between real ``livecommerce serve`` processes, addressed directly
(no load balancer): the origin lease, edges pulling from the origin, edges pulling from
an edge past ``STREAM_ORIGIN_MAX_EDGES``, a viewer waiting on an edge before the host
arrives, an edge that stops pulling when its last viewer leaves. Real aiortc peers
decode the video (the markers of ``tests/test_streaming.py``: pixel content).
The failure cases through nginx are in ``tests/test_multinode_media.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from livecommerce import encoding, keys
from livecommerce.db.engine import Database
from livecommerce.settings import Settings
from streaming.client import post_offer
from streaming.edge import edge_claim, edge_of
from tests.processes import ServeProcess
from tests.support import Actors, wait_for
from tests.test_streaming import Host, Watcher, advancing


@pytest.fixture(scope="module")
def nodes(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServeProcess]]:
    # One edge straight from the origin; the next pulls from that edge.
    procs = [
        ServeProcess(
            settings,
            tmp_path_factory.mktemp(f"cascade{i}"),
            NODE_ID=f"node{i}",
            STREAM_ORIGIN_MAX_EDGES="1",
        )
        for i in range(3)
    ]
    try:
        for proc in procs:
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.stop()
    for proc in procs:
        assert not proc.bad_lines(), proc.bad_lines()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def _registry(redis: Any, session_id: int) -> dict[str, dict[str, Any]]:
    raw = await redis.hgetall(keys.session_nodes(session_id))
    return {k.decode(): dict(encoding.loads(v)) for k, v in raw.items()}


async def _watch(http: httpx.AsyncClient, node: ServeProcess, session_id: int) -> Watcher:
    watcher = Watcher()
    r = await post_offer(http, f"{node.url}/whep/{session_id}", watcher.pc)
    assert r.status_code == 201, r.text
    watcher.location = node.url + r.headers["location"]
    return watcher


async def test_edges_chain_past_the_origins_limit_and_stop_pulling_when_nobody_watches(
    nodes: list[ServeProcess], http: httpx.AsyncClient, db: Database, redis: Any
) -> None:
    origin, first, second = nodes
    actors = Actors(httpx.AsyncClient(base_url=origin.url, timeout=10), db)
    show = await actors.show()
    sid, token = show["id"], show["host"]["token"]
    host = Host(audio=False)
    watchers: list[Watcher] = []
    try:
        # A viewer waits on the second node before the host goes live.
        watchers.append(await _watch(http, second, sid))
        r = await post_offer(http, f"{origin.url}/whip/{sid}", host.pc, token=token)
        assert r.status_code == 201, r.text
        whip = origin.url + r.headers["location"]
        assert r.headers["location"].startswith(f"/whip/{sid}/node0.")
        lease = encoding.loads(await redis.get(keys.session_origin(sid)))
        assert lease == {"id": "node0", "url": origin.url}
        await wait_for(lambda: advancing(watchers[0].markers, 10), timeout=15)

        watchers.append(await _watch(http, first, sid))
        await wait_for(lambda: advancing(watchers[1].markers, 10), timeout=15)

        # One edge pulls from the origin, the other from that edge (limit 1).
        async def chained() -> bool:
            reg = await _registry(redis, sid)
            ups = {n: e.get("upstream") for n, e in reg.items()}
            return reg.get("node0", {}).get("role") == "origin" and sorted(ups.items()) in (
                [("node0", None), ("node1", "node0"), ("node2", "node1")],
                [("node0", None), ("node1", "node2"), ("node2", "node0")],
            )

        await wait_for(chained, timeout=10)

        # The whole show's health on any node: 2 viewers (edges are not viewers), 3 nodes.
        async def summed() -> bool:
            body = (await http.get(f"{second.url}/api/sessions/{sid}/media")).json()
            return bool(body["viewers_on_media"] == 2 and body["nodes"] == 3)

        await wait_for(summed, timeout=10)

        # The viewers leave: both edges stop pulling and leave the registry.
        for watcher in watchers:
            assert (await http.delete(watcher.location)).status_code == 200

        async def only_origin_left() -> bool:
            return set(await _registry(redis, sid)) == {"node0"}

        await wait_for(only_origin_left, timeout=10)

        # The host stops: the lease is released at once, not left to expire.
        assert (await http.delete(whip, headers=show["host"]["headers"])).status_code == 200
        assert await redis.get(keys.session_origin(sid)) is None
    finally:
        for watcher in watchers:
            await watcher.close()
        await host.close()
        await actors.client.aclose()


async def test_an_h264_host_reaches_a_viewer_through_an_edge_as_h264(
    nodes: list[ServeProcess], http: httpx.AsyncClient, db: Database
) -> None:
    origin, edge, _ = nodes
    actors = Actors(httpx.AsyncClient(base_url=origin.url, timeout=10), db)
    show = await actors.show()
    sid = show["id"]
    host = Host(video_mime="video/H264", audio=False)
    watcher: Watcher | None = None
    try:
        r = await post_offer(http, f"{origin.url}/whip/{sid}", host.pc, token=show["host"]["token"])
        assert r.status_code == 201, r.text
        watcher = await _watch(http, edge, sid)
        await wait_for(lambda: advancing(watcher.markers, 10), timeout=15)
        body = (await http.get(f"{edge.url}/api/sessions/{sid}/media")).json()
        assert body["codec"] == "video/H264", body
    finally:
        if watcher is not None:
            await watcher.close()
        await host.close()
        await actors.client.aclose()


def test_only_a_node_with_the_secret_passes_for_an_edge() -> None:
    claim = edge_claim("s" * 32, 7, "node1")
    assert edge_of("s" * 32, 7, claim) == "node1"
    assert edge_of("s" * 32, 8, claim) is None  # another show
    assert edge_of("t" * 32, 7, claim) is None  # another secret
    assert edge_of("s" * 32, 7, "node1") is None  # a viewer naming a node
    assert edge_of("s" * 32, 7, "node2." + claim.split(".")[1]) is None
    assert edge_of("s" * 32, 7, None) is None
