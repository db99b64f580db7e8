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
from tests.hub_client import HubClient
from tests.multinode import MultiNode, Node
from tests.support import Actors, seconds, wait_for
from tests.test_browser import sign_in
from tests.test_streaming import Host, Watcher

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

    def __init__(self, client: httpx.AsyncClient, session_id: int, *, follow: bool = True) -> None:
        """``follow=False``: a viewer that never reconnects (to show it need not)."""
        self.client = client
        self.follow = follow
        self.session_id = session_id
        self.watcher = Watcher()
        #: Arrival time of every decoded frame, and when the connection it came on began.
        self.frames_at: list[float] = []
        self.connected_at: list[float] = []
        self.reconnects = 0
        self._connected = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self, url: str | None = None) -> None:
        await self._connect(url)
        if self.follow:
            self._task = asyncio.create_task(self._follow())

    async def _connect(self, url: str | None = None) -> None:
        while True:
            watcher = Watcher()
            base = url or ""
            r = await post_offer(self.client, f"{base}/whep/{self.session_id}", watcher.pc)
            if r.status_code == 201:
                watcher.location = r.headers["location"]
                self.watcher = watcher
                self._connected = asyncio.get_running_loop().time()
                self._count(watcher, self._connected)
                return
            await watcher.close()
            await asyncio.sleep(0.2)  # the client's retry pace, as documented

    def _count(self, watcher: Watcher, connected_at: float) -> None:
        seen = len(watcher.markers)
        loop = asyncio.get_running_loop()

        async def count() -> None:
            nonlocal seen
            while watcher is self.watcher:
                if len(watcher.markers) > seen:
                    added = len(watcher.markers) - seen
                    self.frames_at.extend([loop.time()] * added)
                    self.connected_at.extend([connected_at] * added)
                    seen = len(watcher.markers)
                await asyncio.sleep(0.02)

        self._counter = asyncio.create_task(count())

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.1)
            # A new connection gets STALL_S for its first frame too.
            last = max(self.frames_at[-1] if self.frames_at else 0.0, self._connected)
            stalled = loop.time() - last > self.STALL_S
            failed = self.watcher.pc.connectionState in ("failed", "closed")
            if stalled or failed:
                old = self.watcher
                self.reconnects += 1
                await self._connect()
                await old.close()

    def _after(self, t: float, new_connection: bool) -> list[float]:
        return [
            at
            for at, began in zip(self.frames_at, self.connected_at, strict=True)
            if at > t and (began > t or not new_connection)
        ]

    def frames_after(self, t: float, *, new_connection: bool = False) -> int:
        """Frames decoded after ``t`` (only on a connection made after ``t``: frames
        still in flight from a dead node do not count)."""
        return len(self._after(t, new_connection))

    def first_frame_after(self, t: float, *, new_connection: bool = False) -> float:
        return self._after(t, new_connection)[0]

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


def _runs(markers: list[int], n: int) -> bool:
    """``n`` decoded frames in a row whose counters go forward: real, decodable video
    (a frame decoded from a lost reference under load may read wrong; a run cannot)."""
    run = 1
    for a, b in zip(markers, markers[1:], strict=False):
        run = run + 1 if b > a else 1
        if run >= n:
            return True
    return False


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
        await wait_for(lambda: all(_runs(w.markers, 15) for w in watchers), timeout=15)

        # Every node can tell the origin and the edges.
        async def registered() -> bool:
            raw = await redis.hgetall(keys.session_nodes(sid))
            by_url = {n["url"]: n for n in (encoding.loads(v) for v in raw.values())}
            return by_url.get(origin.url, {}).get("role") == "origin" and all(
                by_url.get(node.url, {}).get("role") == "edge"
                and by_url[node.url]["upstream"] == lease["id"]
                for node in (edge1, edge2)
            )

        await wait_for(registered, timeout=5)

        # One show, not one per node: any node sums the viewers (edges are not viewers).
        async def summed() -> bool:
            body = (await lb.get(f"/api/sessions/{sid}/media")).json()
            return bool(body["viewers_on_media"] == 2 and body["nodes"] == 3 and body["fps"] > 5)

        await wait_for(summed, timeout=10)

        # The moderators' dashboard, from any node, shows the one show too.
        async def dashboard_summed() -> bool:
            r = await lb.get(f"/api/sessions/{sid}/dashboard", headers=show["host"]["headers"])
            assert r.status_code == 200, r.text
            stream = r.json()["stream"]
            return bool(stream and stream["viewers_on_media"] == 2 and stream["publishing"])

        await wait_for(dashboard_summed, timeout=10)

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


async def _pin_reaches_a_viewer(lb_url: str, show: dict[str, Any], product_id: int) -> None:
    """Pins are not video: through the load balancer, after any node's death, a pin
    still reaches a viewer."""
    host = await HubClient.open(lb_url, token=show["host"]["token"])
    viewer = await HubClient.open(lb_url)
    try:
        await viewer.join(show["id"])
        reply = await host.request("pin", session=show["id"], product_id=product_id)
        assert reply["type"] == "ack", reply
        await viewer.wait(lambda f: f.get("type") == "pinned", timeout=10)
    finally:
        await host.ws.close()
        await viewer.ws.close()


async def test_an_edge_dies_and_its_viewers_have_video_again_within_3_s(
    cluster: MultiNode, lb: httpx.AsyncClient, lb_actors: Actors
) -> None:
    origin, _, edge = cluster.nodes
    product = await lb_actors.product()
    show = await lb_actors.show(product_ids=[product["id"]])
    sid, token = show["id"], show["host"]["token"]
    host = Host(audio=False)
    viewers = [FollowingViewer(lb, sid) for _ in range(2)]
    try:
        r = await post_offer(lb, f"{origin.url}/whip/{sid}", host.pc, token=token)
        assert r.status_code == 201, r.text
        for viewer in viewers:
            await viewer.start(edge.url)
        await wait_for(lambda: all(len(v.frames_at) >= 15 for v in viewers), timeout=15)

        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        edge.kill()
        await wait_for(
            lambda: all(v.frames_after(killed_at, new_connection=True) >= 10 for v in viewers),
            timeout=15,
        )
        delays = [v.first_frame_after(killed_at, new_connection=True) - killed_at for v in viewers]
        print(f"edge killed: video again after {[round(d, 2) for d in delays]} s")
        assert all(d <= seconds(3) for d in delays), delays
        assert all(v.reconnects >= 1 for v in viewers)
        assert all(_runs(v.watcher.markers, 10) for v in viewers), " / ".join(
            str(v.watcher.markers) for v in viewers
        )
        await _pin_reaches_a_viewer(cluster.url, show, product["id"])
    finally:
        for viewer in viewers:
            await viewer.close()
        await host.close()
        if not edge.alive:
            edge.start()


async def test_the_origin_dies_the_host_republishes_and_viewers_everywhere_see_it_within_5_s(
    cluster: MultiNode, lb: httpx.AsyncClient, lb_actors: Actors, redis: Any
) -> None:
    origin, edge1, edge2 = cluster.nodes
    product = await lb_actors.product()
    show = await lb_actors.show(product_ids=[product["id"]])
    sid, token = show["id"], show["host"]["token"]
    host = Host(audio=False)
    # Viewers on the surviving nodes never reconnect: their edges pull the new origin.
    staying = [FollowingViewer(lb, sid, follow=False), FollowingViewer(lb, sid, follow=False)]
    on_origin = FollowingViewer(lb, sid)
    viewers = [*staying, on_origin]
    republished: Host | None = None
    try:
        r = await post_offer(lb, f"{origin.url}/whip/{sid}", host.pc, token=token)
        assert r.status_code == 201, r.text
        await staying[0].start(edge1.url)
        await staying[1].start(edge2.url)
        await on_origin.start(origin.url)
        await wait_for(lambda: all(len(v.frames_at) >= 15 for v in viewers), timeout=15)
        kept = [v.watcher.pc for v in staying]

        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        origin.kill()
        await host.close()
        # The host page retries its WHIP offer through the load balancer.
        republished, r = await _publish_until_answered(lb, "", sid, token)
        republished_at = loop.time()
        lease = await _origin(redis, sid)
        assert lease is not None and lease["url"] != origin.url

        await wait_for(
            lambda: all(v.frames_after(republished_at) >= 15 for v in viewers), timeout=15
        )
        delays = [v.first_frame_after(republished_at) - republished_at for v in viewers]
        print(
            f"origin killed: host republished after {republished_at - killed_at:.2f} s, "
            f"video again after {[round(d, 2) for d in delays]} s"
        )
        assert all(d <= seconds(5) for d in delays), delays
        # The viewers on the surviving nodes kept their peer connections.
        assert [v.watcher.pc for v in staying] == kept
        assert all(v.watcher.pc.connectionState == "connected" for v in staying)
        # The new host's frames (its counter starts again at 0), decoded.
        fresh = [v.watcher.markers[-v.frames_after(republished_at) :] for v in viewers]
        assert all(_runs(m, 10) for m in fresh), " / ".join(str(m) for m in fresh)
        await _pin_reaches_a_viewer(cluster.url, show, product["id"])
    finally:
        for viewer in viewers:
            await viewer.close()
        await host.close()
        if republished is not None:
            await republished.close()
        if not origin.alive:
            origin.start()


# The watch page's <video>: every frame it presents (time, and the stream it came on),
# and whether the picture has light in it (the host's markers are white bars on black).
_OBSERVE = """() => {
  const video = document.getElementById("video");
  window.presented = [];
  const canvas = document.createElement("canvas");
  const each = (now) => {
    const stream = video.srcObject ? video.srcObject.id : null;
    window.presented.push([Date.now(), stream]);
    video.requestVideoFrameCallback(each);
  };
  video.requestVideoFrameCallback(each);
  window.brightest = () => {
    if (!video.videoWidth) return 0;
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(video, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let max = 0;
    for (let i = 0; i < data.length; i += 4) max = Math.max(max, data[i], data[i + 1], data[i + 2]);
    return max;
  };
}"""


# What the watch page's <video> shows now (for a failure's message).
_VIDEO_STATE = """() => {
  const video = document.getElementById("video");
  const stream = video.srcObject;
  return {
    readyState: video.readyState, paused: video.paused, size: [video.videoWidth, video.videoHeight],
    stream: stream ? stream.id : null,
    tracks: stream ? stream.getTracks().map((t) => `${t.kind}:${t.readyState}:${t.muted}`) : [],
    presented: window.presented.length, last: window.presented.slice(-3),
  };
}"""


def _log_since(node: Node, offset: int) -> str:
    """What ``node`` logged since ``offset`` (its log's size then)."""
    with open(node.log_path, "rb") as f:
        f.seek(offset)
        return f"--- node {node.url} ---\n" + f.read().decode(errors="replace")[-20000:]


@pytest.mark.browser
async def test_the_watch_page_through_nginx_plays_the_show_and_survives_its_node_dying(
    cluster: MultiNode, lb: httpx.AsyncClient, lb_actors: Actors, redis: Any
) -> None:
    from playwright.async_api import async_playwright

    from tests.test_media_browser import ARGS, CHROMIUM

    show = await lb_actors.show()
    sid, token = show["id"], show["host"]["token"]
    host = Host(audio=False)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            offers: list[str] = []  # the page's WHEP offers

            def on_request(request: Any) -> None:
                if request.method == "POST" and "/whep/" in request.url:
                    offers.append(request.url)

            page.on("request", on_request)
            await page.goto(f"{cluster.url}/watch/{sid}")
            await page.evaluate(_OBSERVE)

            # The page's player reached some node through nginx and waits there.
            async def waiting_node() -> str | None:
                reg = await redis.hgetall(keys.session_nodes(sid))
                urls = [encoding.loads(v)["url"] for v in reg.values()]
                return urls[0] if len(urls) == 1 else None

            await wait_for(waiting_node, timeout=15)
            watched_url = await waiting_node()
            watched = next(n for n in cluster.nodes if n.url == watched_url)
            origin = next(n for n in cluster.nodes if n is not watched)
            r = await post_offer(lb, f"{origin.url}/whip/{sid}", host.pc, token=token)
            assert r.status_code == 201, r.text

            # Through the edge: decoded, non-black video in the page's <video>.
            async def lit() -> bool:
                count = await page.evaluate("window.presented.length")
                return bool(count > 15 and await page.evaluate("window.brightest()") > 128)

            await wait_for(lit, timeout=20)
            # The page kept the connection it waited on when the show went live (a new
            # offer would reach any node through nginx, maybe not the one killed below):
            # it plays through `watched`, an edge pulling from the origin.
            assert len(offers) == 1, offers
            entries = await redis.hgetall(keys.session_nodes(sid))
            roles = {e["url"]: e["role"] for e in map(encoding.loads, entries.values())}
            assert roles.get(watched.url) == "edge", roles

            # Its node dies: the page plays again on a new connection within 3 s.
            streams = {s for _, s in await page.evaluate("window.presented")}
            offsets = {n.url: n.log_offset() for n in cluster.nodes}
            killed_ms = await page.evaluate("Date.now()")
            watched.kill()

            async def again() -> bool:
                frames = await page.evaluate("window.presented")
                return sum(1 for _, s in frames if s not in streams) > 15

            try:
                await wait_for(again, timeout=15)
            except AssertionError as exc:
                state = await page.evaluate("document.getElementById('video').dataset.rtc")
                reg = await redis.hgetall(keys.session_nodes(sid))
                video = await page.evaluate(_VIDEO_STATE)
                logs = "\n".join(_log_since(n, offsets[n.url]) for n in cluster.nodes if n.alive)
                raise AssertionError(
                    f"player state {state!r}, nodes {reg}, streams before {streams}, "
                    f"video {video}\n{logs}"
                ) from exc
            frames = await page.evaluate("window.presented")
            first_new = min(t for t, s in frames if s not in streams)
            took = (first_new - killed_ms) / 1000
            print(f"watch page: video again {took:.2f} s after its node was killed")
            assert took <= seconds(3), took
            assert await page.evaluate("window.brightest()") > 128
        finally:
            await browser.close()
            await host.close()
            for node in cluster.nodes:
                if not node.alive:
                    node.start()


@pytest.mark.browser
async def test_the_host_page_publishes_again_through_nginx_when_its_origin_dies(
    cluster: MultiNode, lb: httpx.AsyncClient, lb_actors: Actors, redis: Any
) -> None:
    from playwright.async_api import async_playwright

    from tests.test_media_browser import ARGS, CHROMIUM

    show = await lb_actors.show()
    sid, host = show["id"], show["host"]
    me = (await lb.get("/api/me", headers=host["headers"])).json()
    viewer = FollowingViewer(lb, sid, follow=False)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = await browser.new_context(base_url=cluster.url)
            await sign_in(context, host["token"], me)
            page = await context.new_page()
            await page.goto(f"/host/{sid}")
            await page.wait_for_function("document.querySelector('#go-live') !== null")
            await page.click("#go-live")

            async def origin_url() -> str | None:
                lease = await _origin(redis, sid)
                return None if lease is None else str(lease["url"])

            await wait_for(origin_url, timeout=20)
            first_url = await origin_url()
            origin = next(n for n in cluster.nodes if n.url == first_url)
            watched = next(n for n in cluster.nodes if n is not origin)
            await viewer.start(watched.url)
            await wait_for(lambda: len(viewer.frames_at) > 15, timeout=20)

            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            origin.kill()

            # The page notices, and publishes again through nginx once the lease lapses.
            async def moved() -> bool:
                url = await origin_url()
                return url is not None and url != first_url

            await wait_for(moved, timeout=20, interval=0.05)
            republished_at = loop.time()
            await wait_for(lambda: viewer.frames_after(republished_at) > 15, timeout=15)
            took = viewer.first_frame_after(republished_at) - republished_at
            print(
                f"host page: published again {republished_at - killed_at:.2f} s after its "
                f"origin was killed; the viewer's video {took:.2f} s after that"
            )
            assert took <= seconds(5), took
            assert viewer.reconnects == 0  # the viewer's edge pulled the new origin
        finally:
            await browser.close()
            await viewer.close()
            for node in cluster.nodes:
                if not node.alive:
                    node.start()
