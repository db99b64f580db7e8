"""Deleting a show (``DELETE /api/sessions/{id}``): a scheduled one goes with its lineup and
moderators; an ended one takes its replay media with it from the real media store; a
live one is a 409; only its host or an admin may. Issue 14's "deleting a show deletes its
media"."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from livecommerce import encoding
from livecommerce.db.engine import Database
from livecommerce.db.models import LiveSession, SessionModerator, SessionProduct
from livecommerce.settings import Settings
from streaming.hls.store import DirectoryStore
from tests.cart_support import buy, buyer
from tests.hub_client import HubClient
from tests.support import Actors, ServerThread


async def _row(db: Database, session_id: int) -> LiveSession | None:
    async with db.sessions() as s:
        return await s.get(LiveSession, session_id)


async def _listed(client: httpx.AsyncClient, session_id: int, **query: Any) -> bool:
    r = await client.get("/api/sessions", params={"limit": 100, **query})
    assert r.status_code == 200, r.text
    return session_id in {s["id"] for s in r.json()["items"]}


def _index() -> bytes:
    """An index.json as the packager writes it for a 3-segment show."""
    segments = [
        {
            "msn": n,
            "uri": f"seg{n}.m4s",
            "duration_ms": 2000,
            "pdt_ms": 2000 * n,
            "start_ms": 2000 * n,
            "independent": True,
            "bytes": 3,
        }
        for n in range(3)
    ]
    return encoding.dumps(
        {
            "session_id": 0,
            "stream_start_ms": 0,
            "duration_ms": 6000,
            "target_duration": 3,
            "codec": "h264",
            "init": "init.mp4",
            "segments": segments,
        }
    )


async def test_a_scheduled_show_is_deleted_with_its_lineup_and_moderators(
    actors: Actors, client: httpx.AsyncClient, db: Database, server: ServerThread
) -> None:
    product = await actors.product()
    show = await actors.show(product_ids=[product["id"]])
    sid, host = show["id"], show["host"]
    mod = await actors.user()
    r = await client.post(
        f"/api/sessions/{sid}/moderators", json={"user_id": mod["id"]}, headers=host["headers"]
    )
    assert r.status_code == 201, r.text
    assert await _listed(client, sid)

    r = await client.delete(f"/api/sessions/{sid}", headers=host["headers"])
    assert r.status_code == 204, r.text
    r = await client.get(f"/api/sessions/{sid}")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem")
    assert not await _listed(client, sid)
    assert await _row(db, sid) is None
    async with db.sessions() as s:
        for table in (SessionProduct, SessionModerator):
            assert (await s.scalars(select(table).where(table.session_id == sid))).all() == []
    r = await client.delete(f"/api/sessions/{sid}", headers=host["headers"])
    assert r.status_code == 404
    viewer = await HubClient.open(server.url)
    try:
        assert (await viewer.request("join", session=sid))["code"] == "not_found"
    finally:
        await viewer.close()


async def test_an_ended_show_takes_its_replay_media_with_it(
    actors: Actors, client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    product = await actors.product(stock=5)
    show = await actors.show(product_ids=[product["id"]], live=True)
    sid, host = show["id"], show["host"]
    shopper = await buyer(actors)
    r = await buy(client, shopper, product, session_id=sid)
    assert r.status_code == 201, r.text
    order = r.json()
    r = await client.post(f"/api/sessions/{sid}/end", headers=host["headers"])
    assert r.status_code == 200, r.text
    store = DirectoryStore(settings.media_root)
    store.write(f"sessions/{sid}/index.json", _index())
    for name in ("init.mp4", "seg0.m4s", "seg1.m4s", "seg2.m4s", "vod.m3u8"):
        store.write(f"sessions/{sid}/{name}", b"...")
    assert (await client.get(f"/api/sessions/{sid}/replay")).status_code == 200
    media_dir = settings.media_root / "sessions" / str(sid)
    assert media_dir.is_dir() and any(media_dir.iterdir())
    assert await _listed(client, sid, status="ended")

    r = await client.delete(f"/api/sessions/{sid}", headers=host["headers"])
    assert r.status_code == 204, r.text
    assert store.list(f"sessions/{sid}/") == []
    assert not media_dir.exists() or not any(media_dir.rglob("*"))
    r = await client.get(f"/api/sessions/{sid}/replay")
    assert r.status_code == 404, r.text
    assert (await client.get(f"/api/sessions/{sid}")).status_code == 404
    assert not await _listed(client, sid, status="ended")
    # The order still names it: the row stays, marked, and the order is whole.
    row = await _row(db, sid)
    assert row is not None and row.status == "deleted"
    r = await client.get(f"/api/orders/{order['id']}", headers=shopper["headers"])
    assert r.status_code == 200 and r.json()["session_id"] == sid


async def test_an_ended_show_nothing_names_is_removed_from_sql(
    actors: Actors, client: httpx.AsyncClient, db: Database
) -> None:
    show = await actors.show(live=True)
    sid, host = show["id"], show["host"]
    r = await client.post(f"/api/sessions/{sid}/end", headers=host["headers"])
    assert r.status_code == 200, r.text
    admin = await actors.user("admin")
    r = await client.delete(f"/api/sessions/{sid}", headers=admin["headers"])
    assert r.status_code == 204, r.text
    assert await _row(db, sid) is None


async def test_a_live_show_is_a_409_and_only_its_host_or_an_admin_deletes(
    actors: Actors, client: httpx.AsyncClient
) -> None:
    show = await actors.show(live=True)
    sid, host = show["id"], show["host"]
    r = await client.delete(f"/api/sessions/{sid}", headers=host["headers"])
    assert r.status_code == 409 and r.json()["code"] == "session_live", r.text
    assert (await client.get(f"/api/sessions/{sid}")).json()["status"] == "live"

    scheduled = await actors.show()
    other_host = await actors.user("host")
    r = await client.delete(f"/api/sessions/{scheduled['id']}", headers=other_host["headers"])
    assert r.status_code == 403, r.text
    assert (await client.delete(f"/api/sessions/{scheduled['id']}")).status_code == 401
    assert (await client.get(f"/api/sessions/{scheduled['id']}")).status_code == 200
