"""The account and orders pages in real Chromium against the real server (issue 15's
first path): a new user signs up, saves an address and a test card on the account page,
buys from a live show in two taps, and finds the order in My orders; the brand fulfils it
and the open page shows it without a reload; the buyer asks for a refund. The same path
in Turkish and in German, texts and money checked against the catalogs and Intl. A viewer with
no address or card fills them in right in the buy sheet. Bad input in every form: the
error next to its field, what was typed still there.

Screenshots (signup, account, orders, order) go to the test's temporary directory, or to
``docs/screenshots/`` with ``UPDATE_SCREENSHOTS=1`` (like tests/test_browser.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from livecommerce import encoding
from livecommerce.db.engine import Database
from livecommerce.web.component import STATIC
from tests.support import Actors, ServerThread, random_address, seconds, unique
from tests.test_a11y_browser import AXE, _axe
from tests.test_browser import DOCS_SHOTS, launched_chromium, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PRICE = 4900


@dataclass
class Show:
    server: ServerThread
    sid: int
    title: str
    product: dict[str, Any]
    brand: dict[str, Any]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def show(server: ServerThread, database_url: str) -> AsyncIterator[Show]:
    """A live show with one product pinned, and the user of the brand that sells it."""
    db = Database(database_url)
    headers = {"X-Forwarded-For": random_address()}
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=headers) as client:
        actors = Actors(client, db)
        brand_id, brand_user = await actors.brand()
        r = await client.post(
            f"/api/brands/{brand_id}/products",
            json={
                "name": "Cloudwalk Sneakers",
                "images": ["/static/demo/product-3.svg"],
                "price_minor": PRICE,
                "currency": "USD",
                "variants": [{"sku": unique("SKU"), "name": "42", "stock_total": 50}],
            },
            headers=brand_user["headers"],
        )
        assert r.status_code == 201, r.text
        product = r.json()
        live = await actors.show(product_ids=[product["id"]], live=True)
        r = await client.post(
            f"/api/sessions/{live['id']}/pins",
            json={"product_id": product["id"]},
            headers=live["host"]["headers"],
        )
        assert r.status_code == 201, r.text
        try:
            yield Show(server, live["id"], live["title"], product, brand_user)
        finally:
            await db.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with launched_chromium() as chromium:
        yield chromium


async def _page(
    browser: Any, show: Show, who: dict[str, Any] | None = None, *, language: str = "en-US"
) -> Any:
    # A client address of its own, as a real visitor has (the sign-up throttle counts per address).
    context = await browser.new_context(
        viewport={"width": 1000, "height": 900},
        base_url=show.server.url,
        locale=language,
        extra_http_headers={"X-Forwarded-For": random_address(), "Accept-Language": language},
    )
    if who is not None:
        await sign_in(context, who["token"], who["me"])
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def _shots(tmp_path: Path) -> Path:
    shots = DOCS_SHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    return shots


async def test_sign_up_save_address_and_card_buy_and_follow_the_order_live(
    show: Show, browser: Any, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    shots = _shots(tmp_path)
    wait = seconds(15) * 1000
    page = await _page(browser, show)

    # --- sign up: bad input first; each error next to its field, nothing typed is lost
    await page.goto("/signup?next=/account")
    await page.fill("#signup-display_name", "Ada Lovelace")
    await page.fill("#signup-email", "ada-at-example")
    await page.fill("#signup-password", "short")
    await page.click("#signup-submit")
    await expect(page.locator("#signup-email-error")).to_have_text(
        "Enter an email address like name@example.com.", timeout=wait
    )
    await expect(page.locator("#signup-password-error")).to_have_text("Use at least 8 characters.")
    await expect(page.locator("#signup-email")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#signup-display_name")).to_have_value("Ada Lovelace")
    await expect(page.locator("#signup-email")).to_have_value("ada-at-example")
    await page.screenshot(path=str(shots / "signup.png"))
    assert await _axe(page, AXE) == []  # with its errors shown (the other pages: test_a11y_browser)
    email = f"{unique('ada')}@test.livecommerce.dev"
    await page.fill("#signup-email", email)
    await page.fill("#signup-password", "correct horse battery")
    await page.click("#signup-submit")
    await page.wait_for_url("**/account", timeout=wait)  # where `next` said
    await expect(page.locator("#sign-out")).to_be_visible(timeout=wait)
    await expect(page.locator("#profile")).to_contain_text(email)

    # --- the address: a bad country, then a good one
    await page.wait_for_selector("body[data-ready='1']", timeout=wait)
    for field, value in (
        ("name", "Ada Lovelace"),
        ("line1", "12 Market Street"),
        ("city", "Berlin"),
        ("postal_code", "10115"),
        ("country", "D"),
    ):
        await page.fill(f"#address-{field}", value)
    await page.click("#save-address")
    await expect(page.locator("#address-country-error")).to_have_text(
        "Use the two-letter country code, e.g. DE.", timeout=wait
    )
    await expect(page.locator("#address-city-error")).to_have_count(0)
    await expect(page.locator("#address-line1")).to_have_value("12 Market Street")
    await page.fill("#address-country", "de")
    await page.click("#save-address")
    await expect(page.locator("#address-form .form-status")).to_have_text(
        "Address saved.", timeout=wait
    )
    await expect(page.locator("#address-country-error")).to_have_text("")

    # --- cards: an unknown token, then the test cards: add, choose the default, remove
    await page.fill("#card-token", "pm_card_bogus")
    await page.click("#add-card")
    await expect(page.locator("#card-token-error")).to_have_text(
        "Unknown card: pick one of the test cards.", timeout=wait
    )
    await page.click("#card-tests [data-token=pm_card_visa]")
    await expect(page.locator("#card-token")).to_have_value("pm_card_visa")
    await page.click("#add-card")
    cards = page.locator("#cards li")
    await expect(cards).to_have_count(1, timeout=wait)
    await expect(cards.first).to_contain_text("Visa •••• 4242")
    await expect(cards.first.locator(".badge")).to_have_text("Default")
    await page.click("#card-tests [data-token=pm_card_mastercard]")
    await page.uncheck("#card-default")
    await page.click("#add-card")
    await expect(cards).to_have_count(2, timeout=wait)
    master = cards.filter(has_text="4444")
    await master.locator("button.make-default").click()
    await expect(master.locator(".badge")).to_have_text("Default", timeout=wait)
    await expect(cards.filter(has_text="4242").locator(".badge")).to_have_count(0)
    await page.set_viewport_size({"width": 1000, "height": 1400})  # the whole page, header on top
    await page.screenshot(path=str(shots / "account.png"))
    await page.set_viewport_size({"width": 1000, "height": 900})
    await master.locator("button.remove").click()
    await expect(cards).to_have_count(1, timeout=wait)
    await expect(cards.first.locator(".badge")).to_have_text("Default")  # the visa again

    # --- the live show: two taps
    await page.goto(f"/watch/{show.sid}")
    card = page.locator(f"#pinned .product-card[data-product-id='{show.product['id']}']")
    await expect(card).to_be_visible(timeout=wait)
    await page.click("#buy")
    await expect(page.locator("#ship-to")).to_contain_text("12 Market Street")
    await expect(page.locator("#pay-with")).to_have_text("Visa •••• 4242")
    await page.click("#confirm")
    await expect(page.locator("#confirmed")).to_be_visible(timeout=wait)
    order_id = await page.locator("#order-id").text_content()

    # --- My orders: the order with its status; the brand fulfils it; the page shows it live
    await page.goto("/orders")
    row = page.locator(f"#orders [data-order-id='{order_id}']")
    await expect(row).to_contain_text("Cloudwalk Sneakers", timeout=wait)
    await expect(row).to_contain_text("$49.00")
    await expect(row.locator("[data-status]")).to_have_text("Paid")
    await page.wait_for_function("() => window.lcOrders && window.lcOrders.authed", timeout=wait)
    await page.evaluate("() => { window.notReloaded = true; }")
    r = await client.post(f"/api/orders/{order_id}/fulfil", headers=show.brand["headers"])
    assert r.status_code == 200, r.text
    await expect(row.locator("[data-status]")).to_have_attribute(
        "data-status", "fulfilled", timeout=wait
    )
    await expect(row.locator("[data-status]")).to_have_text("Fulfilled")
    assert await page.evaluate("() => window.notReloaded === true")
    await page.screenshot(path=str(shots / "orders.png"))

    # --- the order: items, price paid, the show; a refund request
    await row.locator("a").click()
    await page.wait_for_url(f"**/orders/{order_id}", timeout=wait)
    await expect(page.locator("#order-total")).to_have_text("$49.00", timeout=wait)
    await expect(page.locator("#order-show")).to_have_text(show.title)
    await expect(page.locator("#order-show")).to_have_attribute("href", f"/watch/{show.sid}")
    await expect(page.locator("#detail [data-status]")).to_have_text("Fulfilled")
    await page.fill("#refund-reason", "Too small")
    await page.click("#refund-request")
    await expect(page.locator("#refund-state")).to_contain_text(
        "You asked for a refund", timeout=wait
    )
    await expect(page.locator("#refund-state")).to_contain_text("Too small")
    await page.screenshot(path=str(shots / "order.png"))
    r = await client.get(f"/api/orders/{order_id}", headers=show.brand["headers"])
    assert r.json()["refund_reason"] == "Too small"  # the brand sees it, and refunds it:
    await page.wait_for_function("() => window.lcOrders && window.lcOrders.authed", timeout=wait)
    r = await client.post(f"/api/orders/{order_id}/refund", headers=show.brand["headers"])
    assert r.status_code == 200, r.text
    await expect(page.locator("#detail [data-status]")).to_have_text("Refunded", timeout=wait)
    await expect(page.locator("#detail")).to_contain_text("refunded")  # the payment too

    # --- sign out drops the token
    await page.click("#sign-out")
    await page.wait_for_url(show.server.url + "/", timeout=wait)
    assert await page.evaluate("() => localStorage.getItem('lc.token')") is None
    assert not page.errors, page.errors
    await page.context.close()


async def test_a_viewer_with_no_address_or_card_adds_them_in_the_buy_sheet(
    show: Show, browser: Any, client: httpx.AsyncClient, actors: Actors, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    shots = _shots(tmp_path)
    wait = seconds(15) * 1000
    viewer = await actors.user("viewer")
    viewer["me"] = (await client.get("/api/me", headers=viewer["headers"])).json()
    page = await _page(browser, show, viewer)
    await page.goto(f"/watch/{show.sid}")
    await expect(page.locator("#pinned .product-card")).to_be_visible(timeout=wait)
    await page.click("#buy")
    sheet = page.locator("#buy-setup")
    await expect(sheet).to_be_visible()
    await expect(page.locator("#pay-with")).to_have_count(0)
    await expect(page.locator("#buy-address-name")).to_be_focused()
    await expect(page.locator("#buy-card-token")).to_have_value("pm_card_visa", timeout=wait)
    for field, value in (
        ("name", "Bo Viewer"),
        ("line1", "3 Via Roma"),
        ("city", "Milano"),
        ("postal_code", "20121"),
        ("country", "I"),
    ):
        await page.fill(f"#buy-address-{field}", value)
    await page.click("#confirm")
    await expect(page.locator("#buy-address-country-error")).to_have_text(
        "Use the two-letter country code, e.g. DE.", timeout=wait
    )
    await expect(page.locator("#buy-address-country")).to_be_focused()
    await expect(page.locator("#buy-status")).to_have_text(
        "Please correct the fields marked above."
    )
    await expect(page.locator("#buy-address-line1")).to_have_value("3 Via Roma")
    await expect(page.locator("#confirmed")).to_have_count(0)
    await page.screenshot(path=str(shots / "watch-add-card.png"))
    assert await _axe(page, AXE) == []  # the sheet with the fields to fill in
    await page.fill("#buy-address-country", "IT")
    await page.click("#confirm")
    await expect(page.locator("#confirmed")).to_be_visible(timeout=wait)
    order_id = await page.locator("#order-id").text_content()
    methods = (await client.get("/api/me/payment-methods", headers=viewer["headers"])).json()
    assert [(m["last4"], m["is_default"]) for m in methods] == [("4242", True)]
    me = (await client.get("/api/me", headers=viewer["headers"])).json()
    assert me["shipping_address"]["country"] == "IT"
    r = await client.get(f"/api/orders/{order_id}", headers=viewer["headers"])
    assert r.status_code == 200 and r.json()["session_id"] == show.sid
    # sent to the account page from a page that sells: the way back is offered
    await page.goto(f"/account?next=/watch/{show.sid}")
    await expect(page.locator("#continue")).to_have_attribute("href", f"/watch/{show.sid}")
    await page.goto("/account?next=//elsewhere.example")
    await page.wait_for_selector("body[data-ready='1']", timeout=wait)
    await expect(page.locator("#continue")).to_have_count(0)
    assert not page.errors, page.errors
    await page.context.close()


def _catalog(language: str) -> dict[str, str]:
    data: dict[str, str] = encoding.loads(
        (STATIC / "i18n" / f"{language.split('-')[0]}.json").read_bytes()
    )
    return data


@pytest.mark.parametrize("language", ["tr-TR", "de-DE"])
async def test_the_whole_path_in_turkish_and_in_german(
    show: Show, browser: Any, client: httpx.AsyncClient, language: str
) -> None:
    """Sign up, address, card, two-tap buy, My orders, in the browser's language: every
    text checked comes from that language's catalog, every amount is what the page's own
    ``Intl.NumberFormat`` gives for that locale."""
    from playwright.async_api import expect

    t = _catalog(language)
    wait = seconds(15) * 1000
    page = await _page(browser, show, language=language)
    await page.goto("/signup?next=/account")
    assert await page.get_attribute("html", "lang") == language.split("-")[0]
    await expect(page.locator("h1")).to_have_text(t["signup.title"], timeout=wait)
    await expect(page.locator("#signup-submit")).to_have_text(t["signup.submit"])
    await page.fill("#signup-display_name", "Deniz Müller")
    await page.fill("#signup-email", f"{unique('intl')}@test.livecommerce.dev")
    await page.fill("#signup-password", "correct horse battery")
    await page.click("#signup-submit")
    await page.wait_for_url("**/account", timeout=wait)
    await page.wait_for_selector("body[data-ready='1']", timeout=wait)
    await expect(page.locator("h1")).to_have_text(t["account.title"])
    for field, value in (
        ("name", "Deniz Müller"),
        ("line1", "Bağdat Caddesi 1"),
        ("city", "İstanbul"),
        ("postal_code", "34710"),
        ("country", "TR"),
    ):
        await page.fill(f"#address-{field}", value)
    await page.click("#save-address")
    await expect(page.locator("#address-form .form-status")).to_have_text(
        t["account.address_saved"], timeout=wait
    )
    await page.click("#card-tests [data-token=pm_card_visa]")
    await page.click("#add-card")
    await expect(page.locator("#cards li")).to_have_count(1, timeout=wait)

    await page.goto(f"/watch/{show.sid}")
    await expect(page.locator("#buy")).to_have_text(t["watch.buy"], timeout=wait)
    await page.click("#buy")
    price = await page.evaluate(
        "([locale, minor]) => new Intl.NumberFormat(locale, "
        "{style: 'currency', currency: 'USD'}).format(minor / 100)",
        [language.split("-")[0], PRICE],
    )
    await expect(page.locator("#confirm")).to_have_text(t["watch.confirm"].format(price=price))
    await page.click("#confirm")
    await expect(page.locator("#confirmed")).to_be_visible(timeout=wait)
    order_id = await page.locator("#order-id").text_content()

    await page.goto("/orders")
    await expect(page.locator("h1")).to_have_text(t["orders.title"], timeout=wait)
    row = page.locator(f"#orders [data-order-id='{order_id}']")
    await expect(row.locator(".amount")).to_have_text(price, timeout=wait)
    await expect(row.locator("[data-status]")).to_have_text(t["orders.status_paid"])
    r = await client.post(f"/api/orders/{order_id}/fulfil", headers=show.brand["headers"])
    assert r.status_code == 200, r.text
    await page.goto(f"/orders/{order_id}")
    await expect(page.locator("#order-total")).to_have_text(price, timeout=wait)
    await expect(page.locator("#detail [data-status]")).to_have_text(t["orders.status_fulfilled"])
    if language == "de-DE":  # the locale's own format, not a translated dollar sign
        assert price == "49,00\u00a0$"
    assert not page.errors, page.errors
    await page.context.close()
