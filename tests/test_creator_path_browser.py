"""The creator economy's whole path in real Chromium (issue 13).

A creator opens the marketplace, adds a brand's product to the showcase and copies a share
link; a fresh browser context opens it and buys in two taps; the creator's earnings page
shows the pending commission; the brand's console shows the order and fulfils it; after
the return window (the clock moved, never slept) the payouts job pays it once.

The payouts job is the real ``livecommerce payouts``
command, its clock moved as far as the server's (``CLOCK_OFFSET_S``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from livecommerce.clock import Clock
from livecommerce.db.engine import Database
from livecommerce.settings import Settings
from tests.cart_support import buy, buyer
from tests.support import Actors, ServerThread, seconds, unique
from tests.test_browser import launched_chromium, sign_in

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
_AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => ({ id: v.id, help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
}"""
WAIT_MS = seconds(15) * 1000
#: ``UPDATE_SCREENSHOTS=1``: the console's screenshot goes to the README's docs/screenshots/.
DOCS_SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture
def own_server(settings: Settings) -> Iterator[ServerThread]:
    """A server of this test's own, so moving its clock leaves the session's server alone."""
    server = ServerThread(settings, clock=Clock()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def own(own_server: ServerThread, db: Database) -> AsyncIterator[Actors]:
    async with httpx.AsyncClient(base_url=own_server.url, timeout=seconds(30)) as client:
        yield Actors(client, db)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with launched_chromium() as chromium:
        yield chromium


async def _signed_in(client: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, Any]:
    me = (await client.get("/api/me", headers=user["headers"])).json()
    return {**user, "me": me}


async def _context(browser: Any, server: ServerThread, who: dict[str, Any] | None) -> Any:
    """A fresh browser context (no cookies), signed in as ``who`` the way /login leaves a
    browser: the token in localStorage."""
    context = await browser.new_context(
        viewport={"width": 1200, "height": 860}, base_url=server.url, accept_downloads=True
    )
    if who is not None:
        await sign_in(context, who["token"], who["me"])
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
    shots: Path | None = None,
) -> None:
    """The brand's console lists the order; Mark shipped fulfils it; the sales tables
    count it; the filters and both CSV downloads follow."""
    from playwright.async_api import expect

    context = await _context(browser, server, brand_user)
    page, errors = await _open(context, "/brand")
    row = page.locator(f"#orders li[data-order-id='{order_id}']")
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await expect(row).to_contain_text(product["name"])
    await expect(row.locator(".badge")).to_have_attribute("data-status", "paid")
    await expect(row.locator(".ship-to")).to_contain_text("1 Test Street")
    sales_row = page.locator(f"#sales-product tr[data-key='{product['id']}']")
    await expect(sales_row).to_contain_text(product["name"], timeout=WAIT_MS)
    assert await _axe(page) == []
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(shots / "brand.png"), full_page=True)
    await row.locator("button[data-action=fulfil]").click()
    await expect(row.locator(".badge")).to_have_attribute(
        "data-status", "fulfilled", timeout=WAIT_MS
    )
    await expect(page.locator(f"#orders li[data-order-id='{order_id}'] .row-status")).to_have_text(
        "Marked shipped."
    )
    # the filter: fulfilled orders only, then paid ones (none left)
    await page.select_option("#f-status", "fulfilled")
    await page.click("#apply")
    await expect(page.locator("#orders li")).to_have_count(1, timeout=WAIT_MS)
    await page.select_option("#f-status", "paid")
    await page.click("#apply")
    await expect(page.locator("#no-orders")).to_be_visible(timeout=WAIT_MS)
    # the creator filter offers the creators who sold the brand's products, by name
    await page.select_option("#f-status", "")
    await page.select_option("#f-creator", label="host")
    await page.click("#apply")
    await expect(page.locator("#orders li")).to_have_count(1, timeout=WAIT_MS)
    await expect(row).to_be_visible()
    async with page.expect_download() as waiting:
        await page.click("#sales-product button[data-csv=product]")
    text = Path(await (await waiting.value).path()).read_text(encoding="utf-8")
    assert text.startswith("group,key,label,currency,gmv,units,"), text
    assert f"product,{product['id']}," in text
    await page.select_option("#f-status", "fulfilled")
    async with page.expect_download() as waiting:
        await page.click("#orders-csv")
    text = Path(await (await waiting.value).path()).read_text(encoding="utf-8")
    assert text.startswith("order_id,placed_at,status,"), text
    assert f"{order_id}," in text and ",fulfilled," in text
    assert errors == []
    await context.close()


def _payouts_job(settings: Settings, server: ServerThread, data_dir: Path, creator: int) -> Any:
    """``livecommerce payouts`` for this creator, as a scheduler runs it, its clock moved as
    far as the server's (``CLOCK_OFFSET_S``): the JSON summary it prints last."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LIVECOMMERCE_DATA_DIR": str(data_dir),
        "LIVECOMMERCE_ENV": "test",
        "SECRET_KEY": settings.secret_key,
        "LOG_LEVEL": "WARNING",
        "CLOCK_OFFSET_S": str(server.clock.offset_s),
    }
    done = subprocess.run(
        [sys.executable, "-m", "livecommerce.cli", "payouts", "--creator", str(creator)],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds(60),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


async def test_creator_path(
    own_server: ServerThread, own: Actors, browser: Any, settings: Settings, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    client = own.client
    owner = await own.brand()
    r = await client.post(
        f"/api/brands/{owner[0]}/products",
        json={
            "name": "Merino Trail Runner",
            "images": ["/static/demo/product-3.svg"],
            "price_minor": 8000,
            "currency": "USD",
            "commission_bps": 500,
            "variants": [{"sku": unique("SKU"), "name": "One size", "stock_total": 10}],
        },
        headers=owner[1]["headers"],
    )
    assert r.status_code == 201, r.text
    product = r.json()
    r = await client.put(
        f"/api/products/{product['id']}/collaboration",
        json={"rate_bps": 1500},
        headers=owner[1]["headers"],
    )
    assert r.status_code == 200, r.text
    creator = await _signed_in(client, await own.user("host"))

    # 1. the creator opens the marketplace, finds the product (15 % on offer), adds it to
    # the showcase and copies a share link for it
    creator_context = await _context(browser, own_server, creator)
    await creator_context.grant_permissions(["clipboard-read", "clipboard-write"])
    market, market_errors = await _open(creator_context, "/marketplace")
    await market.fill("#q", product["name"])
    await market.click("#apply")
    found = market.locator(f'#results li[data-product-id="{product["id"]}"]')
    await expect(found).to_contain_text("$80.00", timeout=WAIT_MS)
    await expect(found.locator(".rate")).to_contain_text("15")
    await found.locator("[data-action=add]").click()
    await expect(market.locator(f'#showcase li[data-product-id="{product["id"]}"]')).to_have_count(
        1, timeout=WAIT_MS
    )
    await found.locator("[data-action=share]").click()
    await expect(market.locator("#share-status")).to_have_text("Link copied.", timeout=WAIT_MS)
    share_url = await market.evaluate("() => navigator.clipboard.readText()")
    assert share_url == await market.locator("#share-link").input_value()
    r = await client.get("/api/me/links", headers=creator["headers"])
    (link,) = r.json()
    assert share_url.endswith(link["url"]) and link["product_id"] == product["id"], link
    link_id = link["id"]
    r = await client.get("/api/me/showcase", headers=creator["headers"])
    assert [i["product_id"] for i in r.json()["items"]] == [product["id"]]
    assert market_errors == []

    # 2. a fresh browser context follows the link and buys in two taps
    shopper = await _signed_in(client, await buyer(own))
    context = await _context(browser, own_server, shopper)
    page, errors = await _open(context, share_url)
    await page.wait_for_url(f"**/p/{product['id']}")
    await expect(page.locator("#name")).to_have_text(product["name"], timeout=WAIT_MS)
    await page.click("#buy")
    await expect(page.locator("#confirm")).to_contain_text("$80.00", timeout=WAIT_MS)
    await page.click("#confirm")
    await expect(page.locator("#confirmed")).to_be_visible(timeout=WAIT_MS)
    order_id = (await page.locator("#order-id").text_content() or "").strip()
    assert errors == []
    await context.close()
    r = await client.get(f"/api/orders/{order_id}", headers=shopper["headers"])
    order = r.json()
    assert order["creator_id"] == creator["id"] and order["items"][0]["commission_bps"] == 1500

    # 3. the creator's earnings page: 15 % of 80.00 pending, on the link's row too
    earnings, earnings_errors = await _open(creator_context, "/earnings")
    usd = earnings.locator('#totals-table tr[data-currency="USD"]')
    await expect(usd.locator('[data-figure="pending"]')).to_have_text("$12.00", timeout=WAIT_MS)
    await expect(usd.locator('[data-figure="payable"]')).to_have_text("$0.00")
    await expect(usd.locator('[data-figure="paid"]')).to_have_text("$0.00")
    await expect(earnings.locator(f'#by-link tr[data-link="{link_id}"]')).to_contain_text("$12.00")

    # 4. the brand's console shows the order and fulfils it
    brand_user = await _signed_in(client, owner[1])
    shots = DOCS_SHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    await _brand_console_fulfils(browser, own_server, brand_user, order_id, product, shots)

    # 5. the payouts job: inside the return window it pays nothing; once the clock has
    # moved past it, it pays the commission once, and a second run pays nothing more
    first = await asyncio.to_thread(_payouts_job, settings, own_server, tmp_path, creator["id"])
    assert first["paid"] == [] and first["balanced"] is True, first
    own_server.clock.advance(days=settings.return_window_days, seconds=60)
    r = await client.get("/api/me/earnings", headers=creator["headers"])
    assert (r.json()["pending"], r.json()["payable"]) == ({"USD": 0}, {"USD": 1200}), r.text
    paid = await asyncio.to_thread(_payouts_job, settings, own_server, tmp_path, creator["id"])
    assert len(paid["paid"]) == 1 and paid["balanced"] is True, paid
    again = await asyncio.to_thread(_payouts_job, settings, own_server, tmp_path, creator["id"])
    assert again["paid"] == [] and again["resumed"] == [], again
    bank = [json.loads(line) for line in (tmp_path / "test-payouts.jsonl").read_text().splitlines()]
    assert [(t["creator_id"], t["amount_minor"], t["currency"]) for t in bank] == [
        (creator["id"], 1200, "USD")
    ]
    # the creator's page shows it paid, with the payout and its statement
    await earnings.reload()
    await expect(usd.locator('[data-figure="paid"]')).to_have_text("$12.00", timeout=WAIT_MS)
    await expect(usd.locator('[data-figure="pending"]')).to_have_text("$0.00")
    payout = earnings.locator(f'[data-payout-id="{paid["paid"][0]}"]')
    await expect(payout).to_contain_text("$12.00")
    await expect(payout).to_have_attribute("data-status", "paid")
    await payout.locator("button").click()
    await expect(earnings.locator("#statement-table tbody tr")).to_have_count(1)
    assert earnings_errors == []
    await creator_context.close()


async def test_brand_console_page_for_a_show_order_and_a_viewer(
    own_server: ServerThread, own: Actors, browser: Any
) -> None:
    from playwright.async_api import expect

    client = own.client
    owner = await own.brand()
    product = await own.product(price=2450, commission_bps=1000, owner=owner)
    show = await own.show(product_ids=[product["id"]], live=True)
    user = await buyer(own)
    r = await buy(client, user, product, quantity=2, session_id=show["id"])
    assert r.status_code == 201, r.text
    brand_user = await _signed_in(client, owner[1])
    await _brand_console_fulfils(browser, own_server, brand_user, r.json()["id"], product)
    # a viewer gets a clear message, not an empty console
    context = await _context(browser, own_server, await _signed_in(client, user))
    page, errors = await _open(context, "/brand")
    await expect(page.locator("#gate")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#gate-message")).to_contain_text(
        "brand console is for the users of a brand"
    )
    assert await page.locator("#console").is_hidden() and errors == []
    await context.close()
