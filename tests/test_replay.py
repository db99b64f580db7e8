"""Replays: chapters from the pin history, clips from the show's buys, the clip playlists,
the host deleting a clip or the replay, retention, and buying from a replay at the normal
price with the order still the show's. The media is an index as the packager writes it,
in the server's real media store (the browser test plays real segments)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import m3u8
import pytest

from livecommerce import encoding
from livecommerce.db.engine import Database
from livecommerce.replay.component import Replays
from livecommerce.replay.timeline import Buy, Index, PinSpan, Tap, chapters, pick_clips
from livecommerce.services import Services
from livecommerce.settings import Settings
from streaming.hls.store import DirectoryStore
from tests.cart_support import buy, buyer
from tests.support import Actors, ServerThread

SEG_MS = 2000


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _index(start_ms: int, segments: int, *, gap_after: int | None = None) -> dict[str, Any]:
    """An index.json as the packager writes it: 2 s segments from ``start_ms`` (with a
    10 s hole in the stream after segment ``gap_after``: the host's connection dropped)."""
    segs, pdt = [], start_ms
    for msn in range(segments):
        segs.append(
            {
                "msn": msn,
                "uri": f"seg{msn}.m4s",
                "duration_ms": SEG_MS,
                "pdt_ms": pdt,
                "start_ms": pdt - start_ms,
                "independent": True,
                "bytes": 1000,
            }
        )
        pdt += SEG_MS + (10_000 if msn == gap_after else 0)
    return {
        "session_id": 0,
        "stream_start_ms": start_ms,
        "duration_ms": SEG_MS * segments,
        "target_duration": 3,
        "codec": "h264",
        "init": "init.mp4",
        "segments": segs,
    }


# --- the rules, without I/O -------------------------------------------------------------


def test_chapters_map_pin_moments_to_playhead_times_across_a_hole_in_the_stream() -> None:
    index = Index.parse(_index(1_000_000, 30, gap_after=4))  # 10 s: segs 0-4; then +10 s hole
    spans = [
        PinSpan(7, 1_003_500, 1_008_000),  # in segment 1, unpinned in segment 4
        PinSpan(8, 1_025_000, None),  # after the hole: 25 s of wall clock = 15 s of video
        PinSpan(9, 2_000_000, 2_000_100),  # after the end: no chapter
    ]
    got = chapters(spans, index, ended_ms=None)
    assert [(c.product_id, c.start_ms, c.end_ms) for c in got] == [
        (7, 3500, 8000),
        (8, 15_000, 60_000),
    ]


def test_clips_are_the_moments_with_most_buys_in_whole_keyframe_segments() -> None:
    index = Index.parse(_index(0, 60))  # 120 s
    buys = [Buy(31_000, 5, 1), Buy(33_000, 5, 2), Buy(35_000, 6, 1)]  # window 30-40 s: 4 units
    buys += [Buy(91_000, 6, 2)]  # 90-100 s: 2 units
    buys += [Buy(36_000 + 5000, 7, 1)]  # 40-50 s: 1, overlaps the first clip: skipped
    clips = pick_clips(buys, index, 3)
    assert [(c.product_id, c.buys, c.start_ms, c.end_ms) for c in clips] == [
        (5, 4, 20_000, 46_000),
        (6, 2, 80_000, 106_000),
    ]
    assert clips[0].msns == list(range(10, 23))
    # A clip starts with a keyframe: segment 10 (20 s) does not here, so from 9 (18 s).
    doc = _index(0, 60)
    doc["segments"] = [{**s, "independent": s["msn"] % 3 == 0} for s in doc["segments"]]
    [clip] = pick_clips([Buy(33_000, 5, 1)], Index.parse(doc), 1)
    assert clip.msns[0] == 9 and clip.start_ms == 18_000


def test_card_taps_count_too_but_a_unit_bought_weighs_more() -> None:
    index = Index.parse(_index(0, 60))
    buys = [Buy(31_000, 5, 1)]  # 30-40 s: 1 unit = 5
    taps = [Tap(71_000, 6, 3), Tap(72_000, 6, 1)]  # 70-80 s: 4 taps = 4
    taps += [Tap(101_000, 7, 6)]  # 100-110 s: 6 taps = 6
    clips = pick_clips(buys, index, 2, taps)
    assert [(c.product_id, c.buys, c.taps) for c in clips] == [(5, 1, 0), (7, 0, 6)]
    [only] = pick_clips([], index, 1, taps)
    assert (only.product_id, only.taps, only.start_ms) == (7, 6, 90_000)


# --- the API ------------------------------------------------------------------------------


async def _ended_show_with_pins(
    actors: Actors, client: httpx.AsyncClient
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    owner = await actors.brand()
    products = [await actors.product(owner=owner, stock=20, price=1000) for _ in range(2)]
    show = await actors.show(product_ids=[p["id"] for p in products], live=True)
    url, headers = f"/api/sessions/{show['id']}/pins", show["host"]["headers"]
    pins = []
    r = await client.post(
        url, json={"product_id": products[0]["id"], "flash_price_minor": 500}, headers=headers
    )
    assert r.status_code == 201, r.text
    pins.append(r.json())
    r = await client.post(url, json={"product_id": products[1]["id"]}, headers=headers)
    assert r.status_code == 201, r.text
    pins.append(r.json())
    return show, products, pins


async def _end(client: httpx.AsyncClient, show: dict[str, Any]) -> None:
    r = await client.post(f"/api/sessions/{show['id']}/end", headers=show["host"]["headers"])
    assert r.status_code == 200, r.text


async def test_replay_has_chapters_from_the_pins_and_clips_from_the_buys(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient, settings: Settings
) -> None:
    show, products, pins = await _ended_show_with_pins(actors, client)
    sid = show["id"]
    shopper = await buyer(actors)
    r = await buy(client, shopper, products[1], session_id=sid, quantity=2)
    assert r.status_code == 201, r.text
    r = await client.get(f"/api/sessions/{sid}/replay")
    assert r.status_code == 404 and r.json()["code"] == "no_replay"  # live, no media yet
    await _end(client, show)
    start = pins[0]["pdt_ms"] - 4000
    store = DirectoryStore(settings.media_root)
    store.write(f"sessions/{sid}/index.json", encoding.dumps(_index(start, 40)))

    r = await client.get(f"/api/sessions/{sid}/replay")
    assert r.status_code == 200, r.text
    replay = r.json()
    assert replay["playlist_url"] == f"/hls/{sid}/vod.m3u8"
    assert replay["duration_ms"] == 80_000 and replay["stream_start_ms"] == start
    first, second = replay["chapters"]
    assert first["product_id"] == products[0]["id"] and first["name"] == products[0]["name"]
    assert first["start_ms"] == 4000
    assert first["end_ms"] == second["start_ms"] == pins[1]["pdt_ms"] - start
    history = (await client.get(f"/api/sessions/{sid}/pins")).json()
    assert second["end_ms"] == _ms(history[1]["unpinned_at"]) - start  # the show's end
    assert {p["id"] for p in replay["products"]} == {p["id"] for p in products}

    [clip] = replay["clips"]
    assert clip["product_id"] == products[1]["id"] and clip["buys"] == 2
    assert clip["start_ms"] % SEG_MS == 0 and clip["start_ms"] <= second["start_ms"]
    r = await client.get(clip["playlist_url"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    playlist = m3u8.loads(r.text)
    assert playlist.is_endlist and playlist.playlist_type == "vod"
    assert playlist.segment_map[0].uri == f"/hls/{sid}/init.mp4"
    uris = [s.uri for s in playlist.segments]
    first_msn = clip["start_ms"] // SEG_MS
    assert uris[0] == f"/hls/{sid}/seg{first_msn}.m4s"
    assert sum(s.duration for s in playlist.segments) * 1000 == pytest.approx(
        clip["end_ms"] - clip["start_ms"]
    )
    assert playlist.segments[0].current_program_date_time is not None

    # Only the host (or an admin) deletes a clip; it is gone for good.
    clip_url = f"/api/sessions/{sid}/clips/{clip['id']}"
    r = await client.delete(clip_url, headers=shopper["headers"])
    assert r.status_code == 403
    r = await client.delete(clip_url)
    assert r.status_code == 401
    r = await client.delete(clip_url, headers=show["host"]["headers"])
    assert r.status_code == 204
    assert (await client.get(f"/api/sessions/{sid}/replay")).json()["clips"] == []
    r = await client.delete(clip_url, headers=show["host"]["headers"])
    assert r.status_code == 404
    assert (await client.get(clip["playlist_url"])).status_code == 404

    # The host deletes the replay: its media is gone.
    r = await client.delete(f"/api/sessions/{sid}/replay", headers=shopper["headers"])
    assert r.status_code == 403
    r = await client.delete(f"/api/sessions/{sid}/replay", headers=show["host"]["headers"])
    assert r.status_code == 204
    assert store.list(f"sessions/{sid}/") == []
    r = await client.get(f"/api/sessions/{sid}/replay")
    assert r.status_code == 404 and r.json()["code"] == "no_replay"


async def test_a_show_that_never_went_live_has_no_replay(
    actors: Actors, client: httpx.AsyncClient
) -> None:
    show = await actors.show()
    r = await client.get(f"/api/sessions/{show['id']}/replay")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "no_replay"
    r = await client.get("/api/sessions/987654321/replay")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await client.get(f"/api/sessions/{show['id']}/clips/c1/playlist.m3u8")
    assert r.status_code == 404


async def test_a_replay_sells_at_the_normal_price_for_the_show_and_its_host(
    actors: Actors, client: httpx.AsyncClient
) -> None:
    show, products, _ = await _ended_show_with_pins(actors, client)
    sid = show["id"]
    # Pin the flash-priced product again, then end the show with it pinned.
    r = await client.post(
        f"/api/sessions/{sid}/pins",
        json={"product_id": products[0]["id"], "flash_price_minor": 500, "duration_s": 3600},
        headers=show["host"]["headers"],
    )
    assert r.status_code == 201, r.text
    shopper = await buyer(actors)
    r = await buy(client, shopper, products[0], session_id=sid)
    assert r.status_code == 201 and r.json()["total_minor"] == 500  # live: the flash price
    await _end(client, show)
    r = await buy(client, shopper, products[0], session_id=sid)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["total_minor"] == 1000  # the replay: the catalog's price
    assert order["session_id"] == sid and order["creator_id"] == show["host"]["id"]


async def test_retention_deletes_the_media_of_shows_ended_long_ago(
    actors: Actors, client: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    old = await actors.show(live=True)
    await _end(client, old)
    recent = await actors.show(live=True)
    await _end(client, recent)
    store = DirectoryStore(settings.media_root)
    for show in (old, recent):
        store.write(f"sessions/{show['id']}/index.json", encoding.dumps(_index(0, 3)))
    replays = Replays(Services(settings.with_(replay_retention_days=30), db=db), store)
    ended = datetime.fromisoformat(
        (await client.get(f"/api/sessions/{old['id']}")).json()["ended_at"]
    )
    # A day after the shows ended: kept.
    assert old["id"] not in await replays.sweep(ended + timedelta(days=1))
    assert store.list(f"sessions/{old['id']}/") != []
    # 31 days after: both are past retention (and other tests' shows too).
    deleted = await replays.sweep(ended + timedelta(days=31))
    assert {old["id"], recent["id"]} <= set(deleted)
    assert store.list(f"sessions/{old['id']}/") == []
    kept = Replays(Services(settings.with_(replay_retention_days=0), db=db), store)
    store.write(f"sessions/{old['id']}/index.json", encoding.dumps(_index(0, 3)))
    assert await kept.sweep(ended + timedelta(days=3650)) == []


async def test_taps_on_the_pinned_card_count_for_the_clips(
    actors: Actors, client: httpx.AsyncClient, settings: Settings
) -> None:
    show, products, pins = await _ended_show_with_pins(actors, client)
    sid = show["id"]
    url = f"/api/sessions/{sid}/taps"
    for _ in range(3):
        r = await client.post(url, json={"product_id": products[1]["id"]})
        assert r.status_code == 204, r.text
    r = await client.post(url, json={"product_id": products[0]["id"]})  # not pinned now
    assert r.status_code == 409 and r.json()["code"] == "not_pinned"
    r = await client.post(url, json={"product_id": "7"})
    assert r.status_code == 422
    await _end(client, show)
    r = await client.post(url, json={"product_id": products[1]["id"]})  # the show is over
    assert r.status_code == 409
    store = DirectoryStore(settings.media_root)
    start = pins[0]["pdt_ms"] - 4000
    store.write(f"sessions/{sid}/index.json", encoding.dumps(_index(start, 40)))
    [clip] = (await client.get(f"/api/sessions/{sid}/replay")).json()["clips"]
    assert (clip["product_id"], clip["buys"], clip["taps"]) == (products[1]["id"], 0, 3)
