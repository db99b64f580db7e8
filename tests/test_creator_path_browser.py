"""The creator economy's whole path in real Chromium (issue 13).

A creator opens the marketplace, adds a brand's product to the showcase and copies a share
link; a fresh browser context opens it and buys in two taps; the creator's earnings page
shows the pending commission; the brand's console shows the order and fulfils it; after
the return window (the clock moved, never slept) the payouts job pays it once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from livecommerce import encoding
from tests.cart_support import buy, buyer
from tests.support import Actors, ServerThread, seconds

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
_AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => ({ id: v.id, help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    path = shutil.which(CHROMIUM) or CHROMIUM
    if not Path(path).exists():
        pytest.fail(f"Chromium not found at {path}: scripts/install_browser installs it")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def _signed_in(client: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, Any]:
    me = (await client.get("/api/me", headers=user["headers"])).json()
    return {**user, "me": me}


async def _context(browser: Any, server: ServerThread, who: dict[str, Any] | None) -> Any:
    context = await browser.new_context(
        viewport={"width": 1200, "height": 860}, base_url=server.url, accept_downloads=True
    )
    if who is not None:  # tokens live in localStorage, as /login leaves them
        token = encoding.dumps(who["token"]).decode()
        me = encoding.dumps(encoding.dumps(who["me"]).decode()).decode()
        await context.add_init_script(
            f"localStorage.setItem('lc.token', {token});localStorage.setItem('lc.user', {me});"
        )
    return context


async def _open(context: Any, path: str) -> tuple[Any, list[str]]:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(path)
    return page, errors


async def _axe(page: Any) -> list[dict[str, Any]]:
    await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found: list[dict[str, Any]] = await page.evaluate(_AXE_RUN)
    return found


async def _brand_console_fulfils(
    browser: Any,
    server: ServerThread,
    brand_user: dict[str, Any],
    order_id: str,
    product: dict[str, Any],
) -> None:
    """The brand's console lists the order; Mark shipped fulfils it; the sales tables
    count it; the CSV downloads with the same numbers."""
    from playwright.async_api import expect

    wait_ms = seconds(15) * 1000
    context = await _context(browser, server, brand_user)
    page, errors = await _open(context, "/brand")
    row = page.locator(f"#orders li[data-order-id='{order_id}']")
    await expect(row).to_be_visible(timeout=wait_ms)
    await expect(row).to_contain_text(product["name"])
    await expect(row.locator(".badge")).to_have_attribute("data-status", "paid")
    sales_row = page.locator(f"#sales-product tr[data-key='{product['id']}']")
    await expect(sales_row).to_contain_text(product["name"], timeout=wait_ms)
    assert await _axe(page) == []
    if shots := os.environ.get("BRAND_SHOT"):
        await page.screenshot(path=shots, full_page=True)
    await row.locator("button[data-action=fulfil]").click()
    await expect(row.locator(".badge")).to_have_attribute(
        "data-status", "fulfilled", timeout=wait_ms
    )
    await expect(page.locator(f"#orders li[data-order-id='{order_id}'] .row-status")).to_have_text(
        "Marked shipped."
    )
    # the filter: fulfilled orders only
    await page.select_option("#f-status", "fulfilled")
    await page.click("#apply")
    await expect(page.locator("#orders li")).to_have_count(1, timeout=wait_ms)
    await page.select_option("#f-status", "paid")
    await page.click("#apply")
    await expect(page.locator("#no-orders")).to_be_visible(timeout=wait_ms)
    async with page.expect_download() as waiting:
        await page.click("#sales-product button[data-csv=product]")
    download = await waiting.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    assert text.startswith("group,key,label,currency,gmv,units,"), text
    assert f"product,{product['id']}," in text
    # the orders CSV follows the filters: fulfilled ones, this order among them
    await page.select_option("#f-status", "fulfilled")
    async with page.expect_download() as waiting:
        await page.click("#orders-csv")
    text = Path(await (await waiting.value).path()).read_text(encoding="utf-8")
    assert text.startswith("order_id,placed_at,status,"), text
    assert f"{order_id}," in text and ",fulfilled," in text and ",paid," not in text
    assert errors == []
    await context.close()


async def test_brand_console_page(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient, browser: Any
) -> None:
    owner = await actors.brand()
    product = await actors.product(price=2450, commission_bps=1000, owner=owner)
    show = await actors.show(product_ids=[product["id"]], live=True)
    user = await buyer(actors)
    r = await buy(client, user, product, quantity=2, session_id=show["id"])
    assert r.status_code == 201, r.text
    brand_user = await _signed_in(client, owner[1])
    await _brand_console_fulfils(browser, server, brand_user, r.json()["id"], product)
    # a viewer gets a clear message, not an empty console
    from playwright.async_api import expect

    context = await _context(browser, server, await _signed_in(client, user))
    page, errors = await _open(context, "/brand")
    await expect(page.locator("#gate")).to_be_visible(timeout=seconds(15) * 1000)
    await expect(page.locator("#gate-message")).to_contain_text(
        "brand console is for the users of a brand"
    )
    assert await page.locator("#console").is_hidden() and errors == []
    await context.close()
