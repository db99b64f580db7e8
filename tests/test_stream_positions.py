"""Stream positions on product events (``pos_ms``, ``pdt_ms``) and in the pin history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from livecommerce import keys, redisclient
from tests.cart_support import buy, buyer
from tests.hub_client import HubClient
from tests.support import Actors, ServerThread


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


async def _live(actors: Actors) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    owner = await actors.brand()
    products = [await actors.product(owner=owner, stock=5) for _ in range(2)]
    show = await actors.show(product_ids=[p["id"] for p in products], live=True)
    return show, products


async def test_product_events_and_the_history_carry_positions_from_the_stream_start(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient, settings: Any
) -> None:
    show, products = await _live(actors)
    sid, headers = show["id"], show["host"]["headers"]
    redis = redisclient.connect(settings.redis_url)
    # What the packager writes when its first frame is out: position 0 of the stream.
    start = int(server.clock() * 1000) - 7000
    await redis.set(keys.session_stream_start(sid), start)
    viewer = await HubClient.open(server.url)
    shopper = await buyer(actors)
    try:
        await viewer.join(sid)
        r = await client.post(
            f"/api/sessions/{sid}/pins", json={"product_id": products[0]["id"]}, headers=headers
        )
        assert r.status_code == 201, r.text
        pin = r.json()
        pinned = await viewer.wait(lambda f: f["type"] == "pinned")
        assert pinned["pdt_ms"] == pinned["pin"]["pinned_at_ms"] == _ms(pin["pinned_at"])
        assert pinned["pos_ms"] == pinned["pdt_ms"] - start >= 7000
        assert (pin["pos_ms"], pin["pdt_ms"]) == (pinned["pos_ms"], pinned["pdt_ms"])

        r = await buy(client, shopper, products[0], session_id=sid)
        assert r.status_code == 201, r.text
        stock = await viewer.wait(lambda f: f["type"] == "stock")
        assert stock["pos_ms"] == stock["pdt_ms"] - start
        assert stock["pdt_ms"] >= pinned["pdt_ms"]

        r = await client.delete(f"/api/sessions/{sid}/pins", headers=headers)
        assert r.status_code == 204
        unpinned = await viewer.wait(lambda f: f["type"] == "unpinned")
        assert unpinned["pos_ms"] == unpinned["pdt_ms"] - start >= pinned["pos_ms"]

        history = (await client.get(f"/api/sessions/{sid}/pins")).json()
        assert len(history) == 1
        assert history[0]["pos_ms"] == pinned["pos_ms"]
        assert history[0]["pdt_ms"] == pinned["pdt_ms"]
        assert history[0]["unpinned_pos_ms"] == unpinned["pos_ms"]
        assert _ms(history[0]["unpinned_at"]) == unpinned["pdt_ms"]
    finally:
        await viewer.close()
        await redis.aclose()


async def test_without_a_stream_positions_count_from_the_show_going_live(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient, settings: Any
) -> None:
    show, products = await _live(actors)
    sid, headers = show["id"], show["host"]["headers"]
    redis = redisclient.connect(settings.redis_url)
    try:
        assert await redis.get(keys.session_stream_start(sid)) is None
        live_start = await redis.get(keys.session_live_start(sid))
        assert live_start is not None  # the hub heard the show go live
        r = await client.post(
            f"/api/sessions/{sid}/pins", json={"product_id": products[1]["id"]}, headers=headers
        )
        assert r.status_code == 201, r.text
        pin = r.json()
        assert pin["pos_ms"] == pin["pdt_ms"] - int(live_start) >= 0
        # The history, with the Redis state gone (a long-ended show): from started_at.
        await redis.delete(keys.session_live_start(sid))
        history = (await client.get(f"/api/sessions/{sid}/pins")).json()
        assert history[0]["pos_ms"] == pin["offset_ms"]
        assert history[0]["unpinned_pos_ms"] is None
    finally:
        await redis.aclose()


async def test_a_product_id_beyond_any_sql_id_is_a_422_not_a_500(
    actors: Actors, client: httpx.AsyncClient
) -> None:
    show, _ = await _live(actors)
    for url in (f"/api/sessions/{show['id']}/pins", f"/api/sessions/{show['id']}/taps"):
        r = await client.post(url, json={"product_id": 10**19}, headers=show["host"]["headers"])
        assert r.status_code == 422, r.text
