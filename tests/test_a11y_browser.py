"""Accessibility and languages in real headless Chromium against the real server.

* axe-core (npm, ``scripts/install_web``) injected into every page the server serves
  (``PAGES``): no serious or critical violation, the watch page's buy sheet open too.
* The buy flow by keyboard alone: Tab reaches Buy, Enter opens the sheet with the focus
  on Confirm, Enter buys, the focus comes back to Buy when the sheet closes.
* The watch page at 360 px wide has no horizontal scroll.
* The watch page and a buy in Turkish and in German (browser locale and
  Accept-Language): the texts come from that catalog, money is formatted as ``Intl``
  formats it for that locale.
* The header's language switcher remembers the choice (the ``lang`` cookie) over the
  browser's Accept-Language.

Screenshots (the Turkish and German watch pages, the watch page at 360 px) go into the
test's temporary directory, or into ``docs/screenshots/`` with ``UPDATE_SCREENSHOTS=1``
(as tests/test_browser.py does).

One browser for the module; the show, its pinned product and the users are made once.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from livecommerce.db.engine import Database
from livecommerce.web.component import PAGES
from tests.hub_client import HubClient
from tests.support import Actors, ServerThread, random_address, seconds, unique
from tests.test_browser import ADDRESS, DOCS_SHOTS, launched_chromium, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CATALOGS = ROOT / "livecommerce" / "web" / "static" / "i18n"
PRICE_MINOR = 123456  # 1234.56: shows both the grouping and the decimal separator
CURRENCY = "EUR"

# Runs axe-core on the page; the violations as {id, impact, help, targets}.
_AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
  }));
}"""


@dataclass
class World:
    server: ServerThread
    sid: int
    product: dict[str, Any]
    host: dict[str, Any]
    viewer: dict[str, Any]
    order_id: int
    hub: HubClient


@pytest.fixture(scope="module")
def axe_path() -> Path:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: scripts/install_web installs it (npm ci)")
    return AXE


async def _me(client: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, Any]:
    me = (await client.get("/api/me", headers=user["headers"])).json()
    return {**user, "me": me}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(server: ServerThread, database_url: str) -> AsyncIterator[World]:
    """A live show with one product (EUR) pinned, its host, and a viewer with an
    address, a saved card and one order."""
    db = Database(database_url)
    headers = {"X-Forwarded-For": random_address()}
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=headers) as client:
        actors = Actors(client, db)
        brand_id, brand_user = await actors.brand()
        r = await client.post(
            f"/api/brands/{brand_id}/products",
            json={
                "name": "Linen Shirt",
                "description": "Shown live.",
                "images": ["/static/demo/product-2.svg"],
                "price_minor": PRICE_MINOR,
                "currency": CURRENCY,
                "commission_bps": 1000,
                "variants": [{"sku": unique("SKU"), "name": "M", "stock_total": 50}],
            },
            headers=brand_user["headers"],
        )
        assert r.status_code == 201, r.text
        product = r.json()
        show = await actors.show(product_ids=[product["id"]], live=True)
        host = await _me(client, show["host"])
        viewer = await actors.user("viewer")
        r = await client.put("/api/me/address", json=ADDRESS, headers=viewer["headers"])
        assert r.is_success, r.text
        r = await client.post(
            "/api/me/payment-methods", json={"token": "pm_card_visa"}, headers=viewer["headers"]
        )
        assert r.status_code == 201, r.text
        method_id = r.json()["id"]
        viewer = await _me(client, viewer)
        r = await client.post(
            "/api/buy",
            json={
                "product_id": product["id"],
                "variant_id": product["variants"][0]["id"],
                "quantity": 1,
                "session_id": show["id"],
                "payment_method_id": method_id,
            },
            headers={**viewer["headers"], "Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 201, r.text
        order_id = r.json()["id"]
        hub = await HubClient.open(server.url, token=host["token"])
        await hub.join(show["id"])
        await hub.request("pin", session=show["id"], product_id=product["id"])
        try:
            yield World(server, show["id"], product, host, viewer, order_id, hub)
        finally:
            await hub.close()
            await db.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with launched_chromium() as chromium:
        yield chromium


async def _page(
    browser: Any,
    world: World,
    who: dict[str, Any] | None,
    *,
    width: int = 1200,
    height: int = 860,
    locale: str = "en-US",
    accept_language: str = "en-US,en;q=0.9",
) -> tuple[Any, list[str]]:
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        base_url=world.server.url,
        locale=locale,
        extra_http_headers={"Accept-Language": accept_language},
    )
    if who is not None:
        await sign_in(context, who["token"], who["me"])
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


async def _ready(page: Any) -> None:
    """The page has its header (after its catalog loaded) and no "Loading…" in sight."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        await page.wait_for_function(
            "() => document.querySelector('header.top') && [...document.querySelectorAll("
            "'[data-i18n=\"common.loading\"]')].every((n) => !n.checkVisibility())",
            timeout=seconds(15) * 1000,
        )
    except PlaywrightTimeout:
        body = await page.evaluate("() => document.body.innerText")
        raise AssertionError(f"{page.url} did not render: {body[:500]!r}") from None


async def _axe(page: Any, axe_path: Path) -> list[dict[str, Any]]:
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated by the test driver, not added as a <script>: the page's CSP (inline
        # scripts by hash only) stays in force, as in production.
        await page.evaluate(axe_path.read_text(encoding="utf-8") + "\n;undefined")
    # Colours are measured as painted: entrance animations (a card fading in) would be
    # caught half-transparent, including one that starts while axe runs (a pin arriving),
    # so motion is reduced (the pages honour prefers-reduced-motion) and running ones end.
    await page.emulate_media(reduced_motion="reduce")
    await page.evaluate("() => Promise.all(document.getAnimations().map((a) => a.finished))")
    violations: list[dict[str, Any]] = await page.evaluate(_AXE_RUN)
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def _url(pattern: str, world: World) -> str:
    """A real URL for a ``PAGES`` pattern: its {parameter} filled with this world's ids."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if "session" in name:
            return str(world.sid)
        if "order" in name:
            return str(world.order_id)
        return str(world.product["id"])  # /p/{id}: the product page

    return re.sub(r"\{([^}]+)\}", fill, pattern)


def _who(url: str, world: World) -> dict[str, Any]:
    return (
        world.host
        if url.startswith(("/host", "/moderate", "/studio", "/earnings", "/marketplace"))
        else world.viewer
    )


async def _focus_by_tab(page: Any, element_id: str, limit: int = 60) -> int:
    """Press Tab until the element with ``element_id`` has the focus; the presses it took."""
    for presses in range(1, limit + 1):
        await page.keyboard.press("Tab")
        if await page.evaluate("() => document.activeElement && document.activeElement.id") == (
            element_id
        ):
            return presses
    raise AssertionError(f"#{element_id} not reached with {limit} Tab presses")


async def test_every_page_passes_axe(browser: Any, world: World, axe_path: Path) -> None:
    from playwright.async_api import expect

    found: dict[str, list[dict[str, Any]]] = {}
    visited = []
    for pattern in PAGES:
        url = _url(pattern, world)
        for who in (_who(url, world), None) if url in ("/", "/login") else (_who(url, world),):
            page, errors = await _page(browser, world, who)
            await page.goto(url)
            await _ready(page)
            label = f"{url} ({'signed in' if who else 'anonymous'})"
            visited.append(label)
            found[label] = await _axe(page, axe_path)
            if url.startswith("/watch/"):
                # the buy sheet (a modal dialog) too
                await expect(page.locator("#buy")).to_be_visible(timeout=seconds(15) * 1000)
                await page.click("#buy")
                await expect(page.locator("#confirm")).to_be_focused()
                found[f"{label} buy sheet"] = await _axe(page, axe_path)
            assert not errors, (label, errors)
            await page.context.close()
    bad = {label: v for label, v in found.items() if v}
    assert not bad, json.dumps(bad, indent=1)
    assert len(visited) >= 7, visited


def _shots(tmp_path: Path) -> Path:
    shots = DOCS_SHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    return shots


async def test_keyboard_only_buy_on_a_360px_wide_watch_page(
    browser: Any, world: World, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    page, errors = await _page(browser, world, world.viewer, width=360, height=740)
    try:
        await page.goto(f"/watch/{world.sid}")
        await _ready(page)
        card = page.locator(f"#pinned .product-card[data-product-id='{world.product['id']}']")
        await expect(card).to_be_visible(timeout=seconds(15) * 1000)
        # no horizontal scroll at 360 px
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360, f"the watch page is {width} px wide at a 360 px viewport"
        await page.screenshot(path=str(_shots(tmp_path) / "watch-360.png"))

        await _focus_by_tab(page, "buy")
        await page.keyboard.press("Enter")
        await expect(page.locator("[role=dialog]")).to_be_visible()
        await expect(page.locator("#confirm")).to_be_focused()
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360, f"the buy sheet makes the page {width} px wide"
        await page.keyboard.press("Enter")
        await expect(page.locator("#confirmed")).to_be_visible(timeout=seconds(15) * 1000)
        order_id = await page.locator("#order-id").text_content()
        await expect(page.locator("#keep-watching")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.locator("[role=dialog]")).to_have_count(0)
        await expect(page.locator("#buy")).to_be_focused()
        # Escape closes the sheet, and the focus comes back
        await page.keyboard.press("Enter")
        await expect(page.locator("#confirm")).to_be_focused()
        await page.keyboard.press("Escape")
        await expect(page.locator("[role=dialog]")).to_have_count(0)
        await expect(page.locator("#buy")).to_be_focused()
        assert not errors, errors
    finally:
        await page.context.close()
    async with httpx.AsyncClient(base_url=world.server.url) as client:
        r = await client.get(f"/api/orders/{order_id}", headers=world.viewer["headers"])
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text


@pytest.mark.parametrize(
    ("lang", "locale", "accept"), [("tr", "tr-TR", "tr-TR,tr;q=0.9"), ("de", "de-DE", "de-DE,de")]
)
async def test_watch_and_buy_in_the_browsers_language(
    browser: Any,
    world: World,
    axe_path: Path,
    tmp_path: Path,
    lang: str,
    locale: str,
    accept: str,
) -> None:
    from playwright.async_api import expect

    catalog = json.loads((CATALOGS / f"{lang}.json").read_text(encoding="utf-8"))
    english = json.loads((CATALOGS / "en.json").read_text(encoding="utf-8"))
    page, errors = await _page(
        browser, world, world.viewer, width=390, height=844, locale=locale, accept_language=accept
    )
    try:
        await page.goto(f"/watch/{world.sid}")
        await _ready(page)
        assert await page.get_attribute("html", "lang") == lang
        card = page.locator(f"#pinned .product-card[data-product-id='{world.product['id']}']")
        await expect(card).to_be_visible(timeout=seconds(15) * 1000)
        # texts from the catalog (and not the English ones)
        for selector, key in [
            ("#buy", "watch.buy"),
            ("#add-to-cart", "watch.add_to_cart"),
            ("#chat-send", "watch.send"),
            ("#chat-heading", "watch.chat"),
            ("#sign-out", "common.sign_out"),
            ("#state", "common.status_live"),
        ]:
            await expect(page.locator(selector)).to_have_text(catalog[key])
        assert catalog["watch.buy"] != english["watch.buy"]  # so the check above means something
        placeholder = await page.get_attribute("#chat-input", "placeholder")
        assert placeholder == catalog["watch.say_something"]
        # money as Intl formats it in this locale: 1234.56 EUR
        expected = await page.evaluate(
            "([lang, cur, v]) => new Intl.NumberFormat(lang, { style: 'currency', currency: cur })"
            ".format(v)",
            [lang, CURRENCY, PRICE_MINOR / 100],
        )
        await expect(card.locator(".price")).to_have_text(expected)
        if lang == "de":
            assert re.fullmatch(r"1\.234,56\s€", expected), expected  # comma decimals, € after
        else:
            assert re.fullmatch(r"€1\.234,56", expected), expected  # comma decimals, € before
        assert await _axe(page, axe_path) == []

        await page.click("#buy")
        confirm = page.locator("#confirm")
        await expect(confirm).to_have_text(catalog["watch.confirm"].replace("{price}", expected))
        await expect(page.locator("[role=dialog]")).to_have_attribute(
            "aria-label", catalog["watch.confirm_purchase"]
        )
        await confirm.click()
        await expect(page.locator("#confirmed")).to_have_text(
            catalog["watch.confirmed"], timeout=seconds(15) * 1000
        )
        await expect(page.locator("#keep-watching")).to_have_text(catalog["watch.keep_watching"])
        await page.screenshot(path=str(_shots(tmp_path) / f"watch-{lang}.png"))
        assert not errors, errors
    finally:
        await page.context.close()


async def test_the_language_switcher_remembers_the_choice(browser: Any, world: World) -> None:
    from playwright.async_api import expect

    page, errors = await _page(
        browser, world, None, locale="tr-TR", accept_language="tr-TR,tr;q=0.9"
    )
    try:
        await page.goto("/")
        await _ready(page)
        assert await page.get_attribute("html", "lang") == "tr"
        await expect(page.locator("#lang")).to_have_value("tr")
        async with page.expect_navigation():
            await page.select_option("#lang", "it")
        await _ready(page)
        assert await page.get_attribute("html", "lang") == "it"
        italian = json.loads((CATALOGS / "it.json").read_text(encoding="utf-8"))
        await expect(page.locator("h1")).to_have_text(italian["index.heading"])
        # another page, the same browser: still Italian, not the browser's Turkish
        await page.goto("/login")
        await _ready(page)
        assert await page.get_attribute("html", "lang") == "it"
        await expect(page.locator("#sign-in")).to_have_text(italian["common.sign_in"])
        cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
        assert cookies.get("lang") == "it"
        assert not errors, errors
    finally:
        await page.context.close()
