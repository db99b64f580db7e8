"""End to end in real headless Chromium with its fake camera: the host page goes live
(WHIP from getUserMedia) and pins a product; the viewer page plays the video (WHEP)
and shows the pin; the viewer buys in two taps; the moderator page's numbers move; the
moderator deletes the viewer's chat message and it disappears from the viewer page.

Takes screenshots on the way: into the test's temporary directory, or into the
README's ``docs/screenshots/`` with ``UPDATE_SCREENSHOTS=1 scripts/test -m browser``
(so a test run does not rewrite tracked files).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from livecommerce import encoding
from tests.support import Actors, ServerThread, seconds, unique, wait_for

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DOCS_SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Plain IP host candidates (not mDNS names), so aiortc on 127.0.0.1 can reach them.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

# The <video>'s playback position and mean brightness of a frame drawn to a canvas.
_VIDEO_PROBE = """(id) => {
  const v = document.getElementById(id);
  if (!v || v.readyState < 2 || !v.videoWidth) return null;
  const c = document.createElement("canvas"); c.width = 64; c.height = 36;
  const g = c.getContext("2d"); g.drawImage(v, 0, 0, 64, 36);
  const d = g.getImageData(0, 0, 64, 36).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
  return { time: v.currentTime, brightness: sum / (d.length / 4) / 3 };
}"""

ADDRESS = {
    "name": "Ada Viewer",
    "line1": "12 Market Street",
    "city": "Lisbon",
    "postal_code": "1100-001",
    "country": "PT",
}


async def _signed_in(client: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, Any]:
    me = (await client.get("/api/me", headers=user["headers"])).json()
    return {**user, "me": me}


async def _product(
    client: httpx.AsyncClient, brand: tuple[int, dict[str, Any]], image: int, name: str, price: int
) -> dict[str, Any]:
    brand_id, brand_user = brand
    r = await client.post(
        f"/api/brands/{brand_id}/products",
        json={
            "name": name,
            "description": "Shown live.",
            "images": [f"/static/demo/product-{image}.svg"],
            "price_minor": price,
            "currency": "USD",
            "commission_bps": 1000,
            "variants": [{"sku": unique("SKU"), "name": "One size", "stock_total": 25}],
        },
        headers=brand_user["headers"],
    )
    assert r.status_code == 201, r.text
    product: dict[str, Any] = r.json()
    return product


def _chromium_path() -> str:
    path = shutil.which(CHROMIUM) or CHROMIUM
    if not Path(path).exists():
        pytest.fail(f"Chromium not found at {path}: scripts/install_browser installs it")
    return path


@pytest.fixture(scope="module")
def chromium_path() -> str:
    return _chromium_path()


@contextlib.asynccontextmanager
async def launched_chromium() -> AsyncIterator[Any]:
    """Debian's Chromium under Playwright, closed on exit: the browser test modules'
    ``browser`` fixtures wrap this in the scope each needs."""
    from playwright.async_api import async_playwright

    path = _chromium_path()
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def sign_in(context: Any, token: str, me: dict[str, Any]) -> None:
    """Sign every page of the Playwright ``context`` in as /login leaves them: the token
    and the user (``GET /api/me``) in localStorage, set before any page script runs."""
    token_js = encoding.dumps(token).decode()
    me_js = encoding.dumps(encoding.dumps(me).decode()).decode()
    await context.add_init_script(
        f"localStorage.setItem('lc.token', {token_js});localStorage.setItem('lc.user', {me_js});"
    )


Page = Any
#: ``await open_page(path, who=None, *, base="", width=1200, lang=None)``: see ``page_opener``.
Open = Callable[..., Awaitable[Page]]


@contextlib.asynccontextmanager
async def page_opener(
    browser: Any, client: httpx.AsyncClient, base_url: str, *, lang: str | None = None
) -> AsyncIterator[Open]:
    """What the browser test modules' ``open_page`` fixtures yield: ``await open_(path,
    who=None)`` opens ``path`` in a context of its own, signed in as ``who`` (an
    ``Actors`` user) the way the pages sign in, through localStorage. On exit the contexts
    close, and no page may have had a script error. ``lang`` (the opener's, or a call's)
    sets the context's locale and Accept-Language; without one Chromium's own stays."""
    errors: list[str] = []
    contexts: list[Any] = []

    async def open_(
        path: str,
        who: dict[str, Any] | None = None,
        *,
        base: str = "",
        width: int = 1200,
        lang: str | None = lang,
    ) -> Page:
        options: dict[str, Any] = {
            "viewport": {"width": width, "height": 900},
            "base_url": base or base_url,
        }
        if lang is not None:
            options.update(locale=lang, extra_http_headers={"Accept-Language": lang})
        context = await browser.new_context(**options)
        contexts.append(context)
        if who is not None:
            me = (await client.get("/api/me", headers=who["headers"])).json()
            await sign_in(context, who["token"], me)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(path)
        return page

    try:
        yield open_
    finally:
        for context in contexts:
            await context.close()
    assert not errors, errors


async def test_host_goes_live_pins_viewer_buys_moderator_sees_and_deletes(
    server: ServerThread,
    actors: Actors,
    client: httpx.AsyncClient,
    chromium_path: str,
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    shots = DOCS_SHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path

    brand = await actors.brand()
    lineup = (
        (3, "Cloudwalk Sneakers", 8900),
        (7, "Merino Crew Sweater", 7900),
        (6, "Pour-Over Set", 4500),
    )
    products = [await _product(client, brand, *item) for item in lineup]
    host = await _signed_in(client, await actors.user("host"))
    r = await client.post(
        "/api/sessions",
        json={"title": "Spring drop — live", "product_ids": [p["id"] for p in products]},
        headers=host["headers"],
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    moderator = await _signed_in(client, await actors.user("moderator"))
    r = await client.post(
        f"/api/sessions/{sid}/moderators",
        json={"user_id": moderator["id"]},
        headers=host["headers"],
    )
    assert r.status_code == 201, r.text
    viewer = await actors.user("viewer")
    assert (await client.put("/api/me/address", json=ADDRESS, headers=viewer["headers"])).is_success
    r = await client.post(
        "/api/me/payment-methods", json={"token": "pm_card_visa"}, headers=viewer["headers"]
    )
    assert r.status_code == 201, r.text
    viewer = await _signed_in(client, viewer)
    hot = products[0]
    flash_minor = 6900
    wait_ms = seconds(15) * 1000

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:

            async def page_for(who: dict[str, Any], path: str, size: tuple[int, int]) -> Any:
                context = await browser.new_context(
                    viewport={"width": size[0], "height": size[1]}, base_url=server.url
                )
                await sign_in(context, who["token"], who["me"])
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await page.goto(path)
                return page, errors

            host_page, host_errors = await page_for(host, f"/host/{sid}", (1200, 860))
            await expect(host_page.locator("#publish-state")).to_have_text(
                "preview", timeout=wait_ms
            )
            await host_page.click("#go-live")
            await expect(host_page.locator("#publish-state")).to_have_text(
                "on air", timeout=wait_ms
            )
            await expect(host_page.locator("#state")).to_have_text("live", timeout=wait_ms)
            await expect(
                host_page.locator(f"#moderators [data-moderator='{moderator['id']}']")
            ).to_have_count(1)

            viewer_page, viewer_errors = await page_for(viewer, f"/watch/{sid}", (390, 844))
            mod_page, mod_errors = await page_for(moderator, f"/moderate/{sid}", (1200, 860))

            # the video plays: its time advances and its frames are not black
            first = await _probe(viewer_page, wait_ms, "p.time > 0")
            played = await _probe(
                viewer_page, wait_ms, f"p.time > {first['time'] + 1} && p.brightness > 20"
            )
            assert played["brightness"] > 20
            await expect(mod_page.locator("#numbers [data-num=orders] .v")).to_have_text(
                "0", timeout=wait_ms
            )

            # pin with a flash price: once the pin is made (the host page shows it), the
            # viewer's card is there within 1 s
            item = host_page.locator(f"#lineup .item[data-product-id='{hot['id']}']")
            await item.locator("input[name=flash]").fill(f"{flash_minor / 100:.2f}")
            await item.locator("input[name=minutes]").fill("10")
            await item.locator("button.pin").click()
            await expect(host_page.locator("#current-pin")).to_contain_text(
                hot["name"], timeout=wait_ms
            )
            card = viewer_page.locator(f"#pinned .product-card[data-product-id='{hot['id']}']")
            await expect(card).to_be_visible(timeout=seconds(1) * 1000)
            await expect(card.locator(".price")).to_contain_text("$69.00")
            await expect(card.locator(".left")).to_contain_text("left")

            # chat, then the two-tap buy
            await viewer_page.fill("#chat-input", "Does it come in blue?")
            await viewer_page.click("#chat-send")
            message = viewer_page.locator("#chat .msg", has_text="Does it come in blue?")
            await expect(message).to_have_count(1, timeout=wait_ms)
            message_id = await message.get_attribute("data-message-id")
            await viewer_page.click("#buy")
            await expect(viewer_page.locator("#ship-to")).to_contain_text("12 Market Street")
            await expect(viewer_page.locator("#pay-with")).to_contain_text("4242")
            await viewer_page.click("#confirm")
            await expect(viewer_page.locator("#confirmed")).to_be_visible(timeout=wait_ms)
            order_id = await viewer_page.locator("#order-id").text_content()
            r = await client.get(f"/api/orders/{order_id}", headers=viewer["headers"])
            assert r.status_code == 200 and r.json()["status"] == "paid", r.text
            assert r.json()["total_minor"] == flash_minor and r.json()["session_id"] == sid
            await viewer_page.screenshot(path=str(shots / "watch-confirm.png"))
            await viewer_page.click("text=Keep watching")

            # the moderator's numbers go up: one order, the flash price as revenue
            numbers = mod_page.locator("#numbers")
            await expect(numbers).to_have_attribute("data-orders", "1", timeout=wait_ms)
            await expect(numbers).to_have_attribute("data-gmv", str(flash_minor), timeout=wait_ms)
            await expect(numbers.locator("[data-num=gmv] .v")).to_have_text("$69.00")
            await expect(mod_page.locator("#pinned-now")).to_contain_text(hot["name"])
            row = numbers.locator(f"tr[data-product-id='{hot['id']}'] td")
            await expect(row.nth(1)).to_have_text("1")
            # stream health from the relay, on the page and in the same JSON over HTTP
            await expect(numbers.locator("[data-num=bitrate] .v")).to_contain_text("kb/s")
            r = await client.get(f"/api/sessions/{sid}/dashboard", headers=moderator["headers"])
            stream = r.json()["stream"]
            assert stream["publishing"] and stream["bitrate_bps"] > 0 and stream["fps"] > 0, stream
            assert stream["viewers_on_media"] >= 1 and r.json()["orders"] == 1
            mod_message = mod_page.locator(f"#chat [data-message-id='{message_id}']")
            await expect(mod_message).to_have_count(1, timeout=wait_ms)

            # reactions and a blocked word, so the screenshots show them too
            for kind in ("heart", "heart", "fire", "clap", "heart"):
                await viewer_page.click(f"#reactions [data-kind={kind}]")
            await mod_page.fill("#words", "spoiler, scam")
            await mod_page.click("#words-form button")
            await expect(mod_page.locator("#log")).to_contain_text("scam, spoiler", timeout=wait_ms)
            await expect(numbers.locator("[data-num=reactions-per-min] .v")).not_to_have_text(
                "0", timeout=wait_ms
            )
            shots.mkdir(parents=True, exist_ok=True)
            await viewer_page.screenshot(path=str(shots / "watch.png"))
            await host_page.screenshot(path=str(shots / "host.png"))
            await mod_page.screenshot(path=str(shots / "moderate.png"))

            # the viewer's connection drops; the page rejoins with `since` by itself while
            # the moderator deletes the message: it disappears from the viewer page
            await viewer_page.evaluate("window.lcHub.ws.close()")
            await mod_message.locator("button.delete").click()
            await expect(viewer_page.locator(f"[data-message-id='{message_id}']")).to_have_count(
                0, timeout=wait_ms
            )
            await expect(mod_message).to_have_count(0, timeout=wait_ms)
            rejoined = await viewer_page.wait_for_function(
                "() => window.lcHub.ws.readyState === 1 && window.lcHub.lastJoin"
                " && window.lcHub.lastJoin.replayed !== null && window.lcHub.lastJoin",
                timeout=wait_ms,
            )
            assert (await rejoined.json_value())["replayed"] >= 0  # missed events, no snapshot
            # mute from the chat feed: the viewer is told (only the viewer); then unmute
            await viewer_page.fill("#chat-input", "Second question")
            await viewer_page.click("#chat-send")
            second = mod_page.locator("#chat .msg", has_text="Second question")
            await expect(second).to_have_count(1, timeout=wait_ms)
            await second.locator("button.mute").click()
            restricted = mod_page.locator(f"#restricted [data-muted='{viewer['id']}']")
            await expect(restricted).to_contain_text("muted until", timeout=wait_ms)
            await viewer_page.fill("#chat-input", "Am I muted?")
            await viewer_page.click("#chat-send")
            await expect(viewer_page.locator("#chat-error")).to_contain_text(
                "muted", timeout=wait_ms
            )
            await restricted.locator("button").click()
            await expect(restricted).to_have_count(0, timeout=wait_ms)
            r = await client.get(f"/api/sessions/{sid}/moderation/log", headers=host["headers"])
            actions = [e["action"] for e in r.json()["items"]]
            assert actions[:3] == ["unmute", "mute", "delete_message"], actions
            record = r.json()["items"][2]
            assert record["action"] == "delete_message" and record["actor_id"] == moderator["id"]
            assert record["target_user_id"] == viewer["id"]
            # the moderator ends the stream: everyone is told and the video stops
            mod_page.on("dialog", lambda dialog: dialog.accept())
            await mod_page.click("#end-stream")
            await expect(viewer_page.locator("#state")).to_have_text("ended", timeout=wait_ms)
            await expect(host_page.locator("#state")).to_have_text("ended", timeout=wait_ms)

            async def media_stopped() -> bool:
                r = await client.get(f"/api/sessions/{sid}/media")
                return r.json()["publishing"] is False

            await wait_for(media_stopped, timeout=15)
            assert not host_errors and not viewer_errors and not mod_errors, (
                host_errors,
                viewer_errors,
                mod_errors,
            )
        finally:
            await browser.close()


async def _probe(page: Any, timeout_ms: float, condition: str) -> dict[str, Any]:
    """Poll the viewer's <video> until the JS ``condition`` on its probe ``p`` holds."""
    handle = await page.wait_for_function(
        f"""() => {{
          const p = ({_VIDEO_PROBE})("video");
          return p && ({condition}) ? p : false;
        }}""",
        timeout=timeout_ms,
        polling=100,
    )
    probe: dict[str, Any] = await handle.json_value()
    return probe
