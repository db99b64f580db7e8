"""Three ``livecommerce serve`` nodes behind nginx (deploy/nginx.conf, as shipped): the
pages, the API and the hub through it with no stickiness, and kill -9 of one node."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, VideoStreamTrack
from redis.asyncio import Redis
from sqlalchemy import func, select

from livecommerce import keys
from livecommerce.db.engine import Database
from livecommerce.db.models import Order, Payment
from livecommerce.settings import Settings
from livecommerce.stocklevels import units_left
from streaming.client import post_offer
from tests.cart_support import buy, buyer
from tests.hub_client import HubClient
from tests.multinode import EXAMPLE_CONF, MultiNode, Nginx, Node, render_nginx_conf
from tests.support import (
    Actors,
    ServerThread,
    free_port,
    random_address,
    seconds,
    unique,
    wait_for,
)


@pytest.fixture(scope="module")
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultiNode]:
    with MultiNode(
        settings,
        tmp_path_factory.mktemp("multinode"),
        # Every client of these tests reaches the nodes through nginx from 127.0.0.1, so
        # they all share one address's sign-up window (nginx overwrites X-Forwarded-For).
        AUTH_SIGNUP_ATTEMPTS="1000",
        # A retry of a checkout whose node died answers at once (409), not after 30 s.
        IDEMPOTENCY_WAIT_S="1",
    ) as cluster:
        yield cluster


@pytest.fixture
async def lb(cluster: MultiNode) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the load balancer."""
    async with httpx.AsyncClient(base_url=cluster.url, timeout=seconds(20)) as client:
        yield client


@pytest.fixture
async def actors(lb: httpx.AsyncClient, db: Database) -> Actors:
    return Actors(lb, db)


def _answered_by(cluster: MultiNode, request_id: str) -> Node | None:
    """The node whose log has the request ``request_id`` (sent as X-Request-ID)."""
    needle = f'"request_id":"{request_id}"'
    for node in cluster.nodes:
        if needle in node.log_path.read_text():
            return node
    return None


async def _hub_connections(node: Node) -> int:
    async with httpx.AsyncClient(timeout=seconds(5)) as client:
        text = (await client.get(node.url + "/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("livecommerce_hub_connections "))
    return int(float(line.split()[1]))


async def _open_hub(cluster: MultiNode, token: str | None = None) -> tuple[HubClient, Node]:
    """A WebSocket through nginx, and the node it landed on (its open-connections gauge grew)."""
    live = [n for n in cluster.nodes if n.alive]
    before = {n.address: await _hub_connections(n) for n in live}
    hub = await HubClient.open(cluster.url, token=token)
    found: list[Node] = []

    async def grew() -> bool:
        for node in live:
            if await _hub_connections(node) > before[node.address]:
                found.append(node)
                return True
        return False

    await wait_for(grew)
    return hub, found[0]


async def _live_show(
    actors: Actors, *, stock: int = 10
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    owner = await actors.brand()
    products = [await actors.product(owner=owner, stock=stock) for _ in range(2)]
    show = await actors.show(product_ids=[p["id"] for p in products], live=True)
    return show, products


def test_the_rendered_config_changes_only_the_node_and_listen_lines(cluster: MultiNode) -> None:
    example = EXAMPLE_CONF.read_text().splitlines()
    rendered = cluster.nginx_conf.read_text().splitlines()
    changed = [line.strip() for line in rendered if line not in example]
    nodes = [n.address for n in cluster.nodes]
    assert changed == [
        *(f"server {a} max_fails=1 fail_timeout=5s;" for a in nodes),
        f"listen {cluster.url.removeprefix('http://')};",
    ]
    with pytest.raises(ValueError, match="no host:port"):
        render_nginx_conf("# nodes (begin)\nserver x;\n# nodes (end)\n", nodes, listen="1")


async def test_pages_and_api_are_served_by_every_node_without_stickiness(
    cluster: MultiNode, lb: httpx.AsyncClient
) -> None:
    page = await lb.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    script = await lb.get("/static/live.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert (await lb.get("/openapi.json")).json()["openapi"].startswith("3.")
    email = f"{unique('lb')}@test.livecommerce.dev"
    account = {"email": email, "password": "correct horse battery"}
    ids = [f"lb-{uuid.uuid4().hex}" for _ in range(6)]
    r = await lb.post(
        "/api/auth/signup",
        json={**account, "display_name": "LB", "role": "viewer"},
        headers={"X-Request-ID": ids[0]},
    )
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == ids[0]
    for rid in ids[1:3]:
        r = await lb.post("/api/auth/login", json=account, headers={"X-Request-ID": rid})
        assert r.status_code == 200, r.text
    token = r.json()["token"]
    for rid in ids[3:]:
        r = await lb.get(
            "/api/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": rid}
        )
        assert r.status_code == 200 and r.json()["email"] == email
    answered: dict[str, Node | None] = {}

    def logged() -> bool:
        answered.update((rid, _answered_by(cluster, rid)) for rid in ids)
        return all(answered.values())

    await wait_for(logged)
    # Round-robin: a sign-up on one node, the token used on the others.
    assert {node.address for node in answered.values() if node} == {
        n.address for n in cluster.nodes
    }


async def test_the_client_address_is_the_one_nginx_saw_not_the_one_claimed(
    lb: httpx.AsyncClient, redis: Redis
) -> None:
    claimed = "203.0.113.77"
    await redis.delete(keys.throttle_signup_address(claimed))
    r = await lb.post(
        "/api/auth/signup",
        json={
            "email": f"{unique('spoof')}@test.livecommerce.dev",
            "password": "correct horse battery",
            "display_name": "Spoof",
            "role": "viewer",
        },
        headers={"X-Forwarded-For": claimed},
    )
    assert r.status_code == 201, r.text
    # The sign-up counted in 127.0.0.1's window (nginx's view of this client), not the
    # claimed address's: a client cannot pick its throttle window through nginx.
    assert await redis.exists(keys.throttle_signup_address("127.0.0.1")) == 1
    assert await redis.exists(keys.throttle_signup_address(claimed)) == 0


async def test_a_node_believes_x_forwarded_for_only_from_forwarded_allow_ips(
    settings: Settings, redis: Redis
) -> None:
    claimed = random_address()
    await redis.delete(keys.throttle_signup_address("127.0.0.1"))
    # This node's load balancer is elsewhere: a client on loopback is not one.
    node = ServerThread(settings.with_(forwarded_allow_ips=("192.0.2.1",))).start()
    try:
        async with httpx.AsyncClient(base_url=node.url, timeout=seconds(20)) as client:
            r = await client.post(
                "/api/auth/signup",
                json={
                    "email": f"{unique('direct')}@test.livecommerce.dev",
                    "password": "correct horse battery",
                    "display_name": "Direct",
                    "role": "viewer",
                },
                headers={"X-Forwarded-For": claimed},
            )
        assert r.status_code == 201, r.text
    finally:
        node.stop()
    assert await redis.exists(keys.throttle_signup_address(claimed)) == 0
    assert await redis.exists(keys.throttle_signup_address("127.0.0.1")) == 1


async def test_nginx_answers_its_own_errors_as_problem_documents(
    cluster: MultiNode, lb: httpx.AsyncClient, tmp_path: Path
) -> None:
    too_big = b"{" + b" " * (64 * 1024) + b"}"
    via_lb = await lb.post(
        "/api/auth/login", content=too_big, headers={"Content-Type": "application/json"}
    )
    async with httpx.AsyncClient(base_url=cluster.nodes[0].url) as direct:
        at_node = await direct.post(
            "/api/auth/login", content=too_big, headers={"Content-Type": "application/json"}
        )
    assert via_lb.status_code == at_node.status_code == 413
    assert via_lb.headers["content-type"] == "application/problem+json"
    assert {k: via_lb.json()[k] for k in ("code", "limit")} == {
        k: at_node.json()[k] for k in ("code", "limit")
    }
    # Not HTTP at all: nginx's own 400, as a problem document.
    host, port = cluster.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"NOT HTTP\r\n\r\n")
        head, _, body = (await asyncio.wait_for(reader.read(), seconds(5))).partition(b"\r\n\r\n")
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 400") and b"application/problem+json" in head, head
    assert json.loads(body)["code"] == "bad_request"
    # A load balancer whose only node is down: 502, a problem document, Retry-After.
    lonely = Nginx(tmp_path / "nginx", [f"127.0.0.1:{free_port()}"])
    try:
        lonely.wait_ready(status=502)
        r = httpx.get(lonely.url + "/api/sessions")
        assert r.status_code == 502 and r.headers["retry-after"] == "1"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "unavailable"
    finally:
        lonely.stop()


async def test_whip_and_whep_through_nginx_and_their_resources_deleted_from_any_node(
    lb: httpx.AsyncClient, actors: Actors
) -> None:
    show, _ = await _live_show(actors)
    sid = show["id"]
    host = RTCPeerConnection()
    viewers = [RTCPeerConnection() for _ in range(3)]
    try:
        host.addTrack(VideoStreamTrack())
        r = await post_offer(lb, f"/whip/{sid}", host, token=show["host"]["token"])
        assert r.status_code == 201, r.text
        assert r.headers["content-type"].startswith("application/sdp")
        publisher = r.headers["location"]
        assert publisher.startswith(f"/whip/{sid}/"), publisher  # relative: back through nginx
        # Three viewers land on three nodes (round-robin): each gets video (two through
        # an edge), then its DELETE lands on another node and reaches it.
        resources = []
        frames: list[asyncio.Future[MediaStreamTrack]] = []
        for viewer in viewers:
            track: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
            viewer.on("track", track.set_result)
            frames.append(track)
            viewer.addTransceiver("video", direction="recvonly")
            r = await post_offer(lb, f"/whep/{sid}", viewer)
            assert r.status_code == 201, r.text
            assert r.headers["location"].startswith(f"/whep/{sid}/")
            resources.append(r.headers["location"])
        async with asyncio.timeout(seconds(20)):
            for track in frames:
                await (await track).recv()
        for resource in resources:
            assert (await lb.delete(resource)).status_code == 200
            assert (await lb.delete(resource)).status_code == 404
        bye = await lb.delete(publisher, headers=show["host"]["headers"])
        assert bye.status_code == 200, bye.text
    finally:
        for pc in [host, *viewers]:
            await pc.close()


async def test_a_pin_from_a_host_on_one_node_reaches_viewers_on_the_others(
    cluster: MultiNode, actors: Actors
) -> None:
    show, products = await _live_show(actors)
    host, host_node = await _open_hub(cluster, token=show["host"]["token"])
    viewers: dict[str, HubClient] = {}
    opened: list[HubClient] = []
    try:
        # Round-robin puts new WebSockets on every node: keep one viewer per other node.
        while len(viewers) < 2:
            assert len(opened) < 6, "no WebSocket reached the other nodes"
            hub, node = await _open_hub(cluster)
            opened.append(hub)
            if node.address != host_node.address:
                viewers.setdefault(node.address, hub)
        for hub in viewers.values():
            await hub.join(show["id"])
        reply = await host.request("pin", session=show["id"], product_id=products[0]["id"])
        assert reply["type"] == "ack", reply
        for hub in viewers.values():
            pinned = await hub.wait(lambda f: f["type"] == "pinned")
            assert pinned["pin"]["pin_id"] == reply["pin"]["id"]
    finally:
        for hub in [host, *opened]:
            await hub.close()


async def _orders_and_payments(db: Database, user_id: int) -> tuple[int, int]:
    async with db.sessions() as session:
        orders = await session.scalar(
            select(func.count()).select_from(Order).where(Order.user_id == user_id)
        )
        payments = await session.scalar(
            select(func.count())
            .select_from(Payment)
            .join(Order, Order.id == Payment.order_id)
            .where(Order.user_id == user_id)
        )
    return int(orders or 0), int(payments or 0)


async def test_kill_9_of_a_node_costs_retries_not_errors_and_loses_nothing(
    cluster: MultiNode, lb: httpx.AsyncClient, actors: Actors, db: Database, redis: Redis
) -> None:
    show, products = await _live_show(actors, stock=20)
    sid = show["id"]
    product = products[0]
    buyers = [await buyer(actors, card="pm_card_slow") for _ in range(6)]  # 2 s at the bank
    host, host_node = await _open_hub(cluster, token=show["host"]["token"])
    victim = next(n for n in cluster.nodes if n.address != host_node.address)
    viewers: list[tuple[HubClient, Node]] = [await _open_hub(cluster) for _ in range(6)]
    assert any(node is victim for _, node in viewers)
    try:
        for hub, _ in viewers:
            await hub.join(sid)
        first = await host.request("pin", session=sid, product_id=product["id"])
        assert first["type"] == "ack", first
        seen = [await hub.wait(lambda f: f["type"] == "pinned") for hub, _ in viewers]
        last_seq = {id(hub): frame["seq"] for (hub, _), frame in zip(viewers, seen, strict=True)}

        # Six checkouts in flight (round-robin: two on each node), then the victim dies.
        keys_ = [uuid.uuid4().hex for _ in buyers]
        checkouts = [
            asyncio.create_task(buy(lb, user, product, session_id=sid, key=key))
            for user, key in zip(buyers, keys_, strict=True)
        ]

        async def all_reserved() -> bool:
            left = await units_left(redis, product["id"])
            return left is not None and sum(left.values()) == 20 - len(buyers)

        await wait_for(all_reserved)
        victim.kill()

        # The API keeps answering: a request that finds the dead node is retried on another.
        for _ in range(12):
            r = await lb.get(f"/api/sessions/{sid}")
            assert r.status_code == 200, r.text
        late = await actors.user()  # a POST too: it never reached the dead node
        assert late["token"]

        # The dead node's WebSockets are closed; the others stay.
        orphans = [hub for hub, node in viewers if node is victim]
        for hub in orphans:
            await hub.wait_closed()
        survivors = [hub for hub, node in viewers if node is not victim]
        assert all(hub.closed_code is None for hub in survivors)

        # Events while the orphans are away, then they come back through nginx.
        reply = await host.request("pin", session=sid, product_id=products[1]["id"])
        assert reply["type"] == "ack", reply
        reply = await host.request("unpin", session=sid)
        assert reply["type"] == "ack", reply
        unpinned = [await hub.wait(lambda f: f["type"] == "unpinned") for hub in survivors]
        end = unpinned[0]["seq"]

        def after(hub: HubClient, since: int) -> list[int]:
            """The session events ``hub`` received in (since, end] (acks carry a seq too)."""
            events = (f for f in hub.frames if f["type"] not in ("ack", "snapshot"))
            return [f["seq"] for f in events if "seq" in f and since < f["seq"] <= end]

        for hub in survivors:
            assert after(hub, last_seq[id(hub)]) == list(range(last_seq[id(hub)] + 1, end + 1))
        for orphan in orphans:
            since = last_seq[id(orphan)]
            back = await HubClient.open(cluster.url)
            try:
                ack = await back.join(sid, since=since)
                assert ack["replayed"] is not None, "a snapshot instead of the missed events"
                await back.wait(lambda f: f["type"] == "unpinned")
                # Every event it missed, in order, none twice (I5).
                assert after(back, since) == list(range(since + 1, end + 1))
                pins = [f["pin"]["product_id"] for f in back.events("pinned")]
                assert pins == [products[1]["id"]]
            finally:
                await back.close()

        # Checkouts: the victim's end in 502 (nginx does not resend a POST that reached a
        # node); retried with the same key nothing is charged twice.
        first_tries = await asyncio.gather(*checkouts)
        statuses = sorted(r.status_code for r in first_tries)
        assert set(statuses) <= {201, 502} and 502 in statuses, statuses
        for user, key, r in zip(buyers, keys_, first_tries, strict=True):
            again = await buy(lb, user, product, session_id=sid, key=key)
            if r.status_code == 201:
                assert again.status_code == 201 and again.json() == r.json()
            else:
                assert r.json()["code"] == "unavailable"
                # The dead node's attempt still holds the key: "in progress", never a
                # second checkout.
                assert again.status_code in (201, 409), again.text
                if again.status_code == 409:
                    assert again.json()["code"] == "idempotency_in_progress"
            orders, payments = await _orders_and_payments(db, user["id"])
            assert orders == 1 if r.status_code == 201 else orders <= 1
            assert payments == orders  # one authorization per order, never a second
    finally:
        for hub in [host, *(hub for hub, _ in viewers)]:
            await hub.close()
        if not victim.alive:
            victim.start()
