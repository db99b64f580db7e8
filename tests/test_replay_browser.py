"""The shoppable replay end to end in real headless Chromium (issue 14).

A host goes live from the host page (Chromium's fake camera over WHIP; the server packages
it as LL-HLS), pins two products at known moments, and the show ends. Meanwhile a viewer
watches over HLS (``?hls=1``): each card shows only once the player's program date-time
has reached the pin's. Then the replay page plays the show (its playhead advances, its
frames are not black), lists two chapters within 1 s of the pin moments, the card follows
the playhead (tap a chapter: its product), and a buy from the replay is an order at the
normal price, attributed to the show and its host.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from livecommerce import keys, redisclient
from livecommerce.settings import Settings
from tests.cart_support import buy, buyer
from tests.support import Actors, ServerThread, seconds, unique, wait_for
from tests.test_browser import _VIDEO_PROBE, Open, Page, launched_chromium, page_opener

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with launched_chromium() as chromium:
        yield chromium


@pytest_asyncio.fixture(loop_scope="module")
async def open_page(
    browser: Any, server: ServerThread, client: httpx.AsyncClient
) -> AsyncIterator[Open]:
    """``await open_page(path, who=None, base="")``: a signed-in page (``page_opener``)."""
    async with page_opener(browser, client, server.url) as open_:
        yield open_


async def _products(actors: Actors) -> list[dict[str, Any]]:
    brand_id, brand_user = await actors.brand()
    made = []
    for image, name, price in ((3, "Sneakers", 8900), (7, "Sweater", 7900)):
        r = await actors.client.post(
            f"/api/brands/{brand_id}/products",
            json={
                "name": f"{unique('Replay')} {name}",
                "images": [f"/static/demo/product-{image}.svg"],
                "price_minor": price,
                "currency": "USD",
                "variants": [{"sku": unique("SKU"), "name": "One size", "stock_total": 25}],
            },
            headers=brand_user["headers"],
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    return made


async def _playing(page: Page, *, past: float) -> dict[str, float]:
    """Wait until the page's <video> plays beyond ``past`` s with a picture that is not
    black; returns the last probe."""
    probe: dict[str, float] = {}

    async def advanced() -> bool:
        found = await page.evaluate(_VIDEO_PROBE, "video")
        if found:
            probe.update(found)
        return bool(found) and found["time"] > past and found["brightness"] > 8

    await wait_for(advanced, timeout=30, interval=0.2)
    return probe


async def test_a_show_becomes_a_shoppable_replay_with_chapters_at_the_pin_moments(
    actors: Actors, client: httpx.AsyncClient, open_page: Open, settings: Settings
) -> None:
    from playwright.async_api import expect

    wait_ms = seconds(20) * 1000
    first, second = await _products(actors)
    host = await actors.user("host")
    r = await client.post(
        "/api/sessions",
        json={"title": unique("Replay show"), "product_ids": [first["id"], second["id"]]},
        headers=host["headers"],
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]

    # Live from the host page; the packager starts with the stream.
    studio = await open_page(f"/host/{sid}", host)
    await expect(studio.locator("#publish-state")).to_have_text("preview", timeout=wait_ms)
    await studio.click("#go-live")
    await expect(studio.locator("#state")).to_have_text("live", timeout=wait_ms)
    redis = redisclient.connect(settings.redis_url)
    try:

        async def stream_started() -> bool:
            return await redis.get(keys.session_stream_start(sid)) is not None

        await wait_for(stream_started, timeout=30)
    finally:
        await redis.aclose()

    # A viewer over HLS, seconds behind the host.
    viewer = await open_page(f"/watch/{sid}?hls=1")
    await _playing(viewer, past=0.5)
    await asyncio.sleep(3)  # the show goes on: the first pin comes some seconds in

    # Pin the first product with a flash price, then the second one a few seconds later.
    item = studio.locator(f"#lineup .item[data-product-id='{first['id']}']")
    await item.locator("input[name=flash]").fill("5")
    await item.locator("button.pin").click()
    await expect(studio.locator("#current-pin")).to_contain_text(first["name"], timeout=wait_ms)
    card = viewer.locator(f"#pinned [data-product-id='{first['id']}']")
    await expect(card).to_be_visible(timeout=wait_ms)
    pins = (await client.get(f"/api/sessions/{sid}/pins")).json()
    shown_at, lag = await viewer.evaluate(
        "[window.lcPlayingDate(), Date.now() - window.lcPlayingDate()]"
    )
    # The HLS viewer saw the card only once its video had reached the moment of the pin.
    assert shown_at >= pins[0]["pdt_ms"], (shown_at, pins[0])
    print(f"HLS viewer {lag} ms behind: card shown {shown_at - pins[0]['pdt_ms']} ms after the pin")

    await asyncio.sleep(5)  # the first product is on for a while
    await studio.locator(f"#lineup .item[data-product-id='{second['id']}'] button.pin").click()
    await expect(studio.locator("#current-pin")).to_contain_text(second["name"], timeout=wait_ms)
    await expect(viewer.locator(f"#pinned [data-product-id='{second['id']}']")).to_be_visible(
        timeout=wait_ms
    )
    live_buyer = await buyer(actors)  # the show's one sale: its highlight clip
    r = await buy(client, live_buyer, second, session_id=sid, quantity=2)
    assert r.status_code == 201, r.text
    await asyncio.sleep(5)
    r = await client.post(f"/api/sessions/{sid}/end", headers=host["headers"])
    assert r.status_code == 200, r.text
    pins = (await client.get(f"/api/sessions/{sid}/pins")).json()
    assert [p["product_id"] for p in pins] == [first["id"], second["id"]]

    async def replay_ready() -> bool:
        return (await client.get(f"/api/sessions/{sid}/replay")).status_code == 200

    await wait_for(replay_ready, timeout=20)
    replay = (await client.get(f"/api/sessions/{sid}/replay")).json()
    chapters = replay["chapters"]
    assert [c["product_id"] for c in chapters] == [first["id"], second["id"]]
    for chapter, pin in zip(chapters, pins, strict=True):
        assert abs(chapter["start_ms"] - pin["pos_ms"]) <= 1000, (chapter, pin)
    print("chapters", [(c["start_ms"], p["pos_ms"]) for c, p in zip(chapters, pins, strict=True)])

    # The replay page plays the show, its chapters under the video.
    shopper = await buyer(actors)
    page = await open_page(f"/replay/{sid}", shopper)
    await expect(page.locator("#chapters button")).to_have_count(2, timeout=wait_ms)
    starts = [
        int(s)
        for s in await page.locator("#chapters button").evaluate_all(
            "(bs) => bs.map((b) => b.dataset.startMs)"
        )
    ]
    assert starts == [c["start_ms"] for c in chapters]
    await _playing(page, past=0.5)

    # The card follows the playhead: each chapter tapped shows its own product.
    await page.locator("#chapters button").nth(1).click()
    await expect(page.locator(f"#card [data-product-id='{second['id']}']")).to_be_visible(
        timeout=wait_ms
    )
    await page.locator("#chapters button").nth(0).click()
    await expect(page.locator(f"#card [data-product-id='{first['id']}']")).to_be_visible(
        timeout=wait_ms
    )
    await _playing(page, past=chapters[0]["start_ms"] / 1000 + 0.5)
    if chapters[0]["start_ms"] > 1500:  # before the first pin: no card
        await page.evaluate("document.getElementById('video').currentTime = 0.2")
        await expect(page.locator("#card")).to_be_hidden(timeout=wait_ms)
        await page.locator("#chapters button").nth(0).click()
        await expect(page.locator(f"#card [data-product-id='{first['id']}']")).to_be_visible(
            timeout=wait_ms
        )

    # A buy from the replay: the normal price (the flash price ended with the show).
    await page.click("#buy")
    await expect(page.locator("#buy-price")).to_have_text("$89.00")
    await page.click("#confirm")
    await expect(page.locator("#confirmed")).to_be_visible(timeout=wait_ms)
    order_id = await page.locator("#order-id").text_content()
    order = (await client.get(f"/api/orders/{order_id}", headers=shopper["headers"])).json()
    assert order["total_minor"] == first["price_minor"] == 8900
    assert order["session_id"] == sid and order["creator_id"] == host["id"]

    # The highlight clip (the moment of the show's sale) plays from the replay page ...
    [clip] = replay["clips"]
    assert clip["product_id"] == second["id"] and clip["buys"] == 2
    await page.locator("#keep-watching").click()
    await page.locator(f"#clips [data-clip-id='{clip['id']}'] button").first.click()
    await expect(page.locator("#clip-badge")).to_be_visible()
    await _playing(page, past=0.5)
    await expect(page.locator(f"#card [data-product-id='{second['id']}']")).to_be_visible(
        timeout=wait_ms
    )
    # ... and the host's page lists it; the host deletes it there.
    await studio.reload()
    clips = studio.locator("#host-clips [data-clip-id]")
    await expect(clips).to_have_count(1, timeout=wait_ms)
    await clips.locator("button").click()
    await expect(clips).to_have_count(0, timeout=wait_ms)
    assert (await client.get(f"/api/sessions/{sid}/replay")).json()["clips"] == []


async def test_past_the_webrtc_cap_the_watch_page_plays_hls_with_cards_in_sync(
    actors: Actors, client: httpx.AsyncClient, open_page: Open, settings: Settings
) -> None:
    """A show on a node whose WebRTC viewers are capped at one: the first viewer plays
    WebRTC, the second is told webrtc_full and plays the show's HLS instead."""
    from playwright.async_api import expect

    wait_ms = seconds(20) * 1000
    [product, _] = await _products(actors)
    host = await actors.user("host")
    r = await client.post(
        "/api/sessions",
        json={"title": unique("Capped show"), "product_ids": [product["id"]]},
        headers=host["headers"],
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    capped = ServerThread(settings.with_(stream_max_webrtc_viewers=1)).start()
    redis = redisclient.connect(settings.redis_url)
    try:
        studio = await open_page(f"/host/{sid}", host, base=capped.url)
        await expect(studio.locator("#publish-state")).to_have_text("preview", timeout=wait_ms)
        await studio.click("#go-live")
        await expect(studio.locator("#state")).to_have_text("live", timeout=wait_ms)

        first = await open_page(f"/watch/{sid}", base=capped.url)
        await _playing(first, past=0.5)
        assert await first.evaluate("document.getElementById('video').dataset.playback") is None

        async def counted() -> bool:
            return int(await redis.hget(keys.session_media(sid), "viewers") or 0) >= 1

        await wait_for(counted, timeout=10)
        second = await open_page(f"/watch/{sid}", base=capped.url)
        await _playing(second, past=0.5)
        video = second.locator("#video")
        await expect(video).to_have_attribute("data-playback", "hls")

        item = studio.locator(f"#lineup .item[data-product-id='{product['id']}']")
        await item.locator("button.pin").click()
        card = second.locator(f"#pinned [data-product-id='{product['id']}']")
        await expect(card).to_be_visible(timeout=wait_ms)
        pins = (await client.get(f"/api/sessions/{sid}/pins")).json()
        shown_at = await second.evaluate("window.lcPlayingDate()")
        assert shown_at >= pins[0]["pdt_ms"], (shown_at, pins[0])
        r = await client.post(f"/api/sessions/{sid}/end", headers=host["headers"])
        assert r.status_code == 200, r.text
    finally:
        await redis.aclose()
        capped.stop()
