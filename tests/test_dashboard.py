"""Live dashboards: numbers computed from real events (hub counters, SQL orders, cart
stock, the pin), pushed over the WebSocket to moderators only, the same JSON over HTTP,
and the admins' overview of live sessions."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.hub_client import HubClient
from tests.support import Actors, ServerThread, wait_for


async def _buyer(actors: Actors) -> dict[str, Any]:
    user = await actors.user("viewer")
    address = {"name": "B", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "US"}
    r = await actors.client.put("/api/me/address", json=address, headers=user["headers"])
    assert r.status_code == 200, r.text
    r = await actors.client.post(
        "/api/me/payment-methods", json={"token": "pm_card_visa"}, headers=user["headers"]
    )
    assert r.status_code == 201, r.text
    return user


async def test_dashboard_counts_real_events_and_reaches_only_moderators(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient
) -> None:
    owner = await actors.brand()
    hot = await actors.product(owner=owner, stock=10, price=2000)
    cold = await actors.product(owner=owner, stock=4, price=500)
    show = await actors.show(product_ids=[hot["id"], cold["id"]], live=True)
    sid, host = show["id"], show["host"]
    buyers = [await _buyer(actors) for _ in range(2)]
    admin = await actors.user("admin")

    host_ws = await HubClient.open(server.url, token=host["token"])
    viewers = [await HubClient.open(server.url, token=b["token"]) for b in buyers]
    anonymous = await HubClient.open(server.url)
    try:
        for conn in (host_ws, *viewers, anonymous):
            await conn.join(sid)
        reply = await host_ws.request(
            "pin", session=sid, product_id=hot["id"], flash_price_minor=1500
        )
        assert reply["type"] == "ack", reply
        assert (await viewers[0].request("chat", text="hi"))["type"] == "ack"
        assert (await viewers[1].request("chat", text="hello"))["type"] == "ack"
        for _ in range(3):
            assert (await anonymous.request("react", kind="heart"))["type"] == "ack"
        orders = []
        for buyer, product, quantity in (
            (buyers[0], hot, 2),
            (buyers[0], cold, 1),
            (buyers[1], hot, 1),
        ):
            r = await client.post(
                "/api/buy",
                json={
                    "product_id": product["id"],
                    "variant_id": product["variants"][0]["id"],
                    "quantity": quantity,
                    "session_id": sid,
                },
                headers={**buyer["headers"], "Idempotency-Key": uuid.uuid4().hex},
            )
            assert r.status_code == 201, r.text
            orders.append(r.json())

        def settled(d: dict[str, Any]) -> bool:
            return d["orders"] == 3 and d["reactions"] == 3 and d["viewers"]["now"] == 4

        pushed = await host_ws.wait(lambda f: f["type"] == "dashboard" and settled(f), timeout=10)
        r = await client.get(f"/api/sessions/{sid}/dashboard", headers=host["headers"])
        assert r.status_code == 200, r.text
        fetched = r.json()
        for d in (pushed, fetched):
            assert d["session"] == sid and d["status"] == "live"
            assert d["viewers"] == {"now": 4, "peak": 4, "unique": 4}
            assert d["chat_messages"] == 2 and d["reactions"] == 3
            assert d["orders"] == 3 and d["buyers"] == 2 and d["orders_per_min"] == 3
            assert d["gmv_minor"] == sum(o["total_minor"] for o in orders) == 3 * 1500 + 500
            assert d["units_sold"] == 4 and d["currency"] == "USD"
            assert d["conversion"] == 0.5  # 2 buyers / 4 unique viewers
            by_id = {p["product_id"]: p for p in d["products"]}
            assert [p["product_id"] for p in d["products"]] == [hot["id"], cold["id"]]
            assert by_id[hot["id"]] == {
                "product_id": hot["id"],
                "name": hot["name"],
                "units_sold": 3,
                "gmv_minor": 4500,
                "units_left": 7,
            }
            assert by_id[cold["id"]]["units_sold"] == 1 and by_id[cold["id"]]["units_left"] == 3
            assert d["pinned"]["product_id"] == hot["id"] and d["pinned"]["name"] == hot["name"]
            assert d["pinned"]["flash_price_minor"] == 1500 and d["pinned"]["pinned_for_s"] >= 0
            assert d["stream"] is None  # nobody publishes video in this test
        # rates come from counter samples over time: a later sample sees the messages
        await wait_for(
            lambda: [
                f for f in host_ws.events("dashboard") if f["rate_window_s"] > 0 and settled(f)
            ],
            timeout=5,
        )

        # pushed every second, to the host only: viewers never see dashboard frames
        count = len(host_ws.events("dashboard"))
        await wait_for(lambda: len(host_ws.events("dashboard")) >= count + 2, timeout=5)
        assert all(not c.events("dashboard") for c in (*viewers, anonymous))

        # the admin overview lists the show with its headline numbers
        r = await client.get("/api/admin/sessions", headers=admin["headers"])
        assert r.status_code == 200, r.text
        item = next(i for i in r.json()["items"] if i["session"] == sid)
        assert item["orders"] == 3 and item["gmv_minor"] == 5000 and item["units_sold"] == 4
        assert item["viewers_now"] == 4 and item["unique_viewers"] == 4
        assert item["pinned_product_id"] == hot["id"] and item["publishing"] is False
        assert (await client.get("/api/admin/sessions")).status_code == 401
        # an admin may read any session's dashboard
        r = await client.get(f"/api/sessions/{sid}/dashboard", headers=admin["headers"])
        assert r.status_code == 200 and r.json()["orders"] == 3
        r = await client.get("/api/sessions/999999999/dashboard", headers=admin["headers"])
        assert r.status_code == 404
    finally:
        for conn in (host_ws, *viewers, anonymous):
            await conn.close()
