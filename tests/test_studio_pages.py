"""The host studio and the product page in real headless Chromium.

A host schedules a show with a three-product lineup from /studio, edits it, goes live
from the host page (WHIP from Chromium's fake camera) and pins; the show's numbers are in
the studio afterwards. Bad input in the studio form is shown next to each field, from the
API's problem+json, with nothing typed lost. A product page reached from a link buys.

Screenshots go into the test's temporary directory, or into ``docs/screenshots/`` with
``UPDATE_SCREENSHOTS=1`` (as tests/test_browser.py does).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.cart_support import buy, buyer
from tests.support import Actors, ServerThread, seconds, unique
from tests.test_a11y_browser import _axe, axe_path  # noqa: F401 (a fixture)
from tests.test_browser import DOCS_SHOTS, Open, launched_chromium, page_opener

# One browser for the module: its tests share the module's event loop.
pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# A local date-time for an <input type=datetime-local> `days` from now (minutes only),
# and the same moment as ISO text, both computed in the browser's own time zone.
_LOCAL_TIME = """(days) => {
  const d = new Date(Date.now() + days * 86400e3); d.setSeconds(0, 0);
  const two = (n) => String(n).padStart(2, "0");
  const day = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  return [`${day}T${two(d.getHours())}:${two(d.getMinutes())}`, d.toISOString()];
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with launched_chromium() as chromium:
        yield chromium


@pytest_asyncio.fixture(loop_scope="module")
async def open_page(
    browser: Any, server: ServerThread, client: httpx.AsyncClient
) -> AsyncIterator[Open]:
    """``await open_page(path, who=None, width=1200, lang="en-US")``: a signed-in page
    (``page_opener``), in English unless a test asks for another language."""
    async with page_opener(browser, client, server.url, lang="en-US") as open_:
        yield open_


def _shots(tmp_path: Path) -> Path:
    shots = DOCS_SHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    return shots


async def _products(actors: Actors, tag: str) -> list[dict[str, Any]]:
    brand_id, brand_user = await actors.brand()
    made = []
    for image, name, price in ((3, "Sneakers", 8900), (7, "Sweater", 7900), (6, "Pour-Over", 4500)):
        r = await actors.client.post(
            f"/api/brands/{brand_id}/products",
            json={
                "name": f"{tag} {name}",
                "description": "Shown live.",
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


async def test_host_schedules_a_show_in_the_studio_goes_live_and_pins(
    actors: Actors, client: httpx.AsyncClient, open_page: Open, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    wait_ms = seconds(15) * 1000
    tag = unique("Studio")
    products = await _products(actors, tag)
    host = await actors.user("host")

    page = await open_page("/studio", host)
    await page.fill("#title", "Winter warmers")
    await page.fill("#description", "Three cosy things, live.")
    local, iso = await page.evaluate(_LOCAL_TIME, 2)
    await page.fill("#when", local)
    # the lineup from the catalog search: all three, then the last one moved up
    await page.fill("#search", tag)
    results = page.locator("#results li[data-product-id]")
    await expect(results).to_have_count(3, timeout=wait_ms)
    for p in products:
        await page.locator(f"#results li[data-product-id='{p['id']}'] button.add").click()
    await page.locator(f"#lineup li[data-product-id='{products[2]['id']}'] button.up").click()
    order = [products[0]["id"], products[2]["id"], products[1]["id"]]
    await expect(page.locator("#lineup li")).to_have_count(3)
    await page.click("#save")
    await expect(page.locator("#form-status")).to_contain_text("Winter warmers", timeout=wait_ms)
    row = page.locator("#upcoming .show-row", has_text="Winter warmers")
    await expect(row).to_have_count(1, timeout=wait_ms)
    sid = int(await row.get_attribute("data-session") or 0)
    show = (await client.get(f"/api/sessions/{sid}")).json()
    assert show["host_id"] == host["id"] and show["status"] == "scheduled"
    assert [p["id"] for p in show["lineup"]] == order
    assert show["description"] == "Three cosy things, live."
    assert show["scheduled_at"].replace("Z", "+00:00")[:19] == iso[:19]
    assert await page.input_value("#title") == ""  # the form is ready for the next show

    # edit before it goes live: a new title, the second product removed
    await row.locator("button.edit").click()
    await expect(page.locator("#title")).to_have_value("Winter warmers")
    await expect(page.locator("#lineup li")).to_have_count(3)
    await page.fill("#title", "Winter warmers, edited")
    await page.locator(f"#lineup li[data-product-id='{products[2]['id']}'] button.remove").click()
    await page.click("#save")
    await expect(page.locator("#upcoming .show-row", has_text="edited")).to_have_count(
        1, timeout=wait_ms
    )
    show = (await client.get(f"/api/sessions/{sid}")).json()
    assert show["title"] == "Winter warmers, edited"
    assert [p["id"] for p in show["lineup"]] == [products[0]["id"], products[1]["id"]]
    r = await client.put(
        f"/api/sessions/{sid}/lineup", json={"product_ids": order}, headers=host["headers"]
    )
    assert r.status_code == 200, r.text
    await page.reload()
    await expect(page.locator(f"#upcoming [data-session='{sid}']")).to_contain_text(
        "Products: 3", timeout=wait_ms
    )
    await page.fill("#search", tag)
    await expect(page.locator("#results li[data-product-id]")).to_have_count(3, timeout=wait_ms)
    await page.locator(f"#upcoming [data-session='{sid}'] button.edit").click()
    await expect(page.locator("#results button.add:disabled")).to_have_count(3)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(_shots(tmp_path) / "studio.png"), full_page=True)
    await page.click("#cancel-edit")
    await expect(page.locator("#lineup li")).to_have_count(0)

    # the live console from the studio's link: go live (camera over WHIP), pin
    await page.locator(f"#upcoming [data-session='{sid}'] a[href='/host/{sid}']").click()
    await page.wait_for_url(f"**/host/{sid}")
    await expect(page.locator("#publish-state")).to_have_text("preview", timeout=wait_ms)
    await page.click("#go-live")
    await expect(page.locator("#state")).to_have_text("live", timeout=wait_ms)
    hot = products[2]
    await page.locator(f"#lineup .item[data-product-id='{hot['id']}'] button.pin").click()
    await expect(page.locator("#current-pin")).to_contain_text(hot["name"], timeout=wait_ms)
    pins = (await client.get(f"/api/sessions/{sid}/pins")).json()
    assert pins[-1]["product_id"] == hot["id"], pins

    # a sale, the show ends: the studio lists it under past shows with its numbers
    r = await buy(client, await buyer(actors), hot, session_id=sid)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/sessions/{sid}/end", headers=host["headers"])
    assert r.status_code == 200, r.text
    await page.goto("/studio")
    past = page.locator(f"#past [data-session='{sid}']")
    await expect(past.locator("[data-num=orders] dd")).to_have_text("1", timeout=wait_ms)
    await expect(past.locator("[data-num=revenue] dd")).to_have_text("$45.00")
    await expect(past.locator("[data-num=units] dd")).to_have_text("1")
    await expect(past.locator(f"a[href='/watch/{sid}']")).to_have_count(1)
    await expect(past.locator("a[href^='/host/']")).to_have_count(0)


async def test_studio_form_shows_each_error_next_to_its_field_and_keeps_the_input(
    actors: Actors,
    client: httpx.AsyncClient,
    open_page: Open,
    axe_path: Path,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    wait_ms = seconds(15) * 1000
    tag = unique("Errors")
    products = await _products(actors, tag)
    host = await actors.user("host")
    page = await open_page("/studio", host)

    async def kept(title: str, lineup: int) -> None:
        await expect(page.locator("#title")).to_have_value(title)
        await expect(page.locator("#description")).to_have_value("Keep every word.")
        await expect(page.locator("#when")).to_have_value(when)
        await expect(page.locator("#lineup li")).to_have_count(lineup)

    # 1. an empty title
    await page.fill("#description", "Keep every word.")
    when, _ = await page.evaluate(_LOCAL_TIME, -3)  # 2. three days ago
    await page.fill("#when", when)
    await page.fill("#search", tag)
    await expect(page.locator("#results li[data-product-id]")).to_have_count(3, timeout=wait_ms)
    for p in products[:2]:
        await page.locator(f"#results li[data-product-id='{p['id']}'] button.add").click()
    await page.click("#save")
    await expect(page.locator("#title-error")).to_have_text(
        "Give the show a title.", timeout=wait_ms
    )
    await expect(page.locator("#title")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#title")).to_be_focused()
    await kept("", 2)

    # 2. a time in the past
    await page.fill("#title", "Too late")
    await page.click("#save")
    await expect(page.locator("#when-error")).to_contain_text("already passed", timeout=wait_ms)
    await expect(page.locator("#title-error")).to_have_text("")
    await kept("Too late", 2)

    # 3. a lineup product that no longer exists (withdrawn after it was picked)
    when, _ = await page.evaluate(_LOCAL_TIME, 1)
    await page.fill("#when", when)
    admin = await actors.user("admin")
    gone = products[1]
    r = await client.delete(f"/api/products/{gone['id']}", headers=admin["headers"])
    assert r.status_code == 204, r.text
    await page.click("#save")
    item = page.locator(f"#lineup li[data-product-id='{gone['id']}']")
    await expect(item).to_have_class("invalid", timeout=wait_ms)
    await expect(item.locator(".item-error")).to_have_text(f"{gone['name']} is no longer sold.")
    await expect(page.locator("#lineup-error")).not_to_have_text("")
    await expect(page.locator("#when-error")).to_have_text("")
    await kept("Too late", 2)
    assert await _axe(page, axe_path) == []  # the form with its errors shown
    r = await client.get(f"/api/sessions?host_id={host['id']}")
    assert r.json()["items"] == []  # nothing was created by the refused attempts

    # removed, it saves
    await item.locator("button.remove").click()
    await page.click("#save")
    await expect(page.locator("#upcoming .show-row", has_text="Too late")).to_have_count(
        1, timeout=wait_ms
    )

    # a viewer, or nobody: a clear message and a link to sign in
    for who in (await actors.user("viewer"), None):
        other = await open_page("/studio", who)
        await expect(other.locator("#gate")).to_be_visible(timeout=wait_ms)
        await expect(other.locator("#gate-message")).to_contain_text("host account")
        await expect(other.locator("#gate-sign-in")).to_have_attribute(
            "href", "/login?next=%2Fstudio"
        )
        await expect(other.locator("#studio")).to_be_hidden()


async def test_a_product_page_reached_from_a_link_buys(
    actors: Actors,
    client: httpx.AsyncClient,
    open_page: Open,
    tmp_path: Path,
    axe_path: Path,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    wait_ms = seconds(15) * 1000
    brand_id, brand_user = await actors.brand()
    r = await client.post(
        f"/api/brands/{brand_id}/products",
        json={
            "name": "Linen Shirt",
            "description": "Washed linen.\nRelaxed fit.",
            "images": ["/static/demo/product-7.svg", "/static/demo/product-3.svg"],
            "price_minor": 5900,
            "currency": "USD",
            "variants": [
                {"sku": unique("S"), "name": "S", "stock_total": 0},
                {"sku": unique("M"), "name": "M", "stock_total": 4},
                {"sku": unique("XL"), "name": "XL", "price_minor": 6400, "stock_total": 2},
            ],
        },
        headers=brand_user["headers"],
    )
    assert r.status_code == 201, r.text
    product = r.json()
    small, medium, large = product["variants"]
    live = await actors.show(product_ids=[product["id"]], live=True)
    host = await actors.user("host")
    r = await client.post(
        "/api/sessions",
        json={
            "title": "Linen week",
            "scheduled_at": "2030-06-01T18:00:00Z",
            "product_ids": [product["id"]],
        },
        headers=host["headers"],
    )
    assert r.status_code == 201, r.text
    upcoming = r.json()
    viewer = await buyer(actors)

    # reached from a link, as a shared link is followed
    start = await open_page("/studio", viewer)
    await start.evaluate(
        "(href) => { const a = document.createElement('a'); a.id = 'shared'; a.href = href;"
        " a.textContent = 'shared link'; document.querySelector('main').append(a); }",
        f"/p/{product['id']}",
    )
    await start.click("#shared")
    await start.wait_for_url(f"**/p/{product['id']}")
    page = start
    await expect(page.locator("#name")).to_have_text("Linen Shirt", timeout=wait_ms)
    await expect(page.locator("#thumbs button")).to_have_count(2)
    # the first variant in stock is chosen; S is sold out
    await expect(page.locator("input[name=variant]:checked")).to_have_value(str(medium["id"]))
    await expect(page.locator("#price")).to_have_text("$59.00")
    await expect(page.locator("#stock")).to_have_text("4 left")
    await page.check(f"input[name=variant][value='{small['id']}']")
    await expect(page.locator("#stock")).to_have_text("Sold out")
    await expect(page.locator("#buy")).to_be_disabled()
    await page.check(f"input[name=variant][value='{large['id']}']")
    await expect(page.locator("#price")).to_have_text("$64.00")  # its own price
    await expect(page.locator("#stock")).to_have_text("2 left")
    live_link = page.locator(f"#live-now a[href='/watch/{live['id']}']")
    await expect(live_link).to_have_count(1)
    await expect(page.locator(f"#upcoming [data-session='{upcoming['id']}']")).to_contain_text(
        "Linen week"
    )
    await page.screenshot(path=str(_shots(tmp_path) / "product.png"), full_page=True)

    # buy: tap 1 opens the sheet with the saved address and card, tap 2 confirms
    await page.click("#buy")
    await expect(page.locator("#ship-to")).to_contain_text("1 Test Street")
    await expect(page.locator("#pay-with")).to_contain_text("4242")
    await expect(page.locator("#confirm")).to_contain_text("$64.00")
    assert await _axe(page, axe_path) == []  # the buy sheet open
    await page.click("#confirm")
    await expect(page.locator("#confirmed")).to_be_visible(timeout=wait_ms)
    order_id = await page.locator("#order-id").text_content()
    r = await client.get(f"/api/orders/{order_id}", headers=viewer["headers"])
    assert r.status_code == 200, r.text
    order = r.json()
    assert order["status"] == "paid" and order["total_minor"] == 6400, order
    assert [(i["product_id"], i["variant_id"]) for i in order["items"]] == [
        (product["id"], large["id"])
    ]
    await page.click("#buy-done")
    await expect(page.locator("#stock")).to_have_text("1 left", timeout=wait_ms)

    # a viewer with no saved address or card fills them in right in the sheet (buysetup.js)
    newcomer = await actors.user("viewer")
    other = await open_page(f"/p/{product['id']}", newcomer)
    await other.click("#buy")
    await expect(other.locator("#buy-setup")).to_be_visible(timeout=wait_ms)
    for field, value in (
        ("name", "Nia Newcomer"),
        ("line1", "3 Quay Road"),
        ("city", "Cork"),
        ("postal_code", "T12"),
        ("country", "IE"),
    ):
        await other.fill(f"#buy-address-{field}", value)
    await expect(other.locator("#buy-card-token")).to_have_value("pm_card_visa", timeout=wait_ms)
    await other.click("#confirm")
    await expect(other.locator("#confirmed")).to_be_visible(timeout=wait_ms)
    r = await client.get("/api/orders", headers=newcomer["headers"])
    assert [o["total_minor"] for o in r.json()["items"]] == [5900], r.text  # M, the first in stock

    # in German: the page's texts from the German catalog, money as Intl formats it there
    german = await open_page(f"/p/{product['id']}", viewer, lang="de-DE")
    await expect(german.locator("#buy")).to_have_text("Jetzt kaufen", timeout=wait_ms)
    await expect(german.locator("#price")).to_have_text("59,00\u00a0$")
    await expect(german.locator("#stock")).to_have_text("Noch 3 verfügbar")
    await expect(german.locator("#live-heading")).to_have_text("Jetzt live")

    # withdrawn, or never there: the page says so
    r = await client.delete(f"/api/products/{product['id']}", headers=brand_user["headers"])
    assert r.status_code == 204, r.text
    await page.goto(f"/p/{product['id']}")
    await expect(page.locator("#missing-title")).to_have_text(
        "This product is no longer sold.", timeout=wait_ms
    )
    await expect(page.locator("#product")).to_be_hidden()
    await page.goto(f"/p/{2**62}")
    await expect(page.locator("#missing-title")).to_have_text(
        "This product does not exist.", timeout=wait_ms
    )
