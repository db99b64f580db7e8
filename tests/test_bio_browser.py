"""The link-in-bio page and a share link in real Chromium (issue 13, C).

A visitor follows a creator's share link (302, cookie ``lc_attr``), lands on the product
page and buys through the usual buy sheet: the order is the creator's, with the link. The
``/@<handle>`` page (live show with its pinned product, showcase) and the 410 page of a
withdrawn product pass axe-core (no serious or critical violation) under the pages' CSP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from livecommerce.db.engine import Database
from livecommerce.db.models import ShowcaseItem
from tests.cart_support import buyer
from tests.support import Actors, ServerThread, random_address, seconds, unique
from tests.test_browser import launched_chromium, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
_AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => ({ id: v.id, impact: v.impact,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with launched_chromium() as chromium:
        yield chromium


async def _context(browser: Any, server: ServerThread, who: dict[str, Any] | None) -> Any:
    context = await browser.new_context(base_url=server.url, locale="en-US")
    if who is not None:
        await sign_in(context, who["token"], who["me"])
    return context


async def _axe(page: Any) -> list[dict[str, Any]]:
    if not AXE.exists():
        pytest.fail("axe-core is missing: scripts/install_web installs it")
    await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found: list[dict[str, Any]] = await page.evaluate(_AXE_RUN)
    return found


async def test_share_link_to_purchase_and_bio_page_in_chromium(
    browser: Any, server: ServerThread, database_url: str
) -> None:
    from playwright.async_api import expect

    headers = {"X-Forwarded-For": random_address()}
    db = Database(database_url)
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:
            actors = Actors(client, db)
            host = await actors.user("host")
            handle = unique("ada").replace("-", "_")[:24]
            r = await client.patch("/api/me", json={"handle": handle}, headers=host["headers"])
            assert r.status_code == 200
            owner = await actors.brand()
            product = await actors.product(price=4321, commission_bps=1500, owner=owner)
            other = await actors.product(owner=owner)
            async with db.sessions() as s, s.begin():
                s.add(ShowcaseItem(creator_id=host["id"], product_id=other["id"], position=0))
            show = await actors.show(host, product_ids=[product["id"]], live=True)
            r = await client.post(
                f"/api/sessions/{show['id']}/pins",
                json={"product_id": product["id"]},
                headers=host["headers"],
            )
            assert r.status_code in (200, 201), r.text
            link = (
                await client.post(
                    "/api/links",
                    json={"target": "product", "id": product["id"]},
                    headers=host["headers"],
                )
            ).json()
            shopper = await buyer(actors)
            shopper["me"] = (await client.get("/api/me", headers=shopper["headers"])).json()

            # a fresh browser follows the link and buys on the product page
            context = await _context(browser, server, shopper)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(link["url"])
            assert page.url.endswith(f"/p/{product['id']}")
            cookies = {c["name"]: c for c in await context.cookies()}
            assert cookies["lc_attr"]["httpOnly"] and cookies["lc_attr"]["sameSite"] == "Lax"
            await expect(page.locator("#buy")).to_be_enabled(timeout=seconds(15) * 1000)
            await page.click("#buy")
            await expect(page.locator("#confirm")).to_be_focused(timeout=seconds(15) * 1000)
            await page.click("#confirm")
            orders: list[dict[str, Any]] = []

            async def bought() -> bool:
                r = await client.get("/api/orders", headers=shopper["headers"])
                orders[:] = r.json()["items"]
                return bool(orders)

            from tests.support import wait_for

            await wait_for(bought, timeout=15)
            assert orders[0]["creator_id"] == host["id"] and orders[0]["link_id"] == link["id"]
            assert orders[0]["items"][0]["commission_bps"] == 1500

            # the bio page: server-rendered, passes axe, prices in the visitor's locale
            await page.goto(f"/@{handle}")
            await expect(page.locator("header.top")).to_be_visible()
            assert await page.locator("#bio-live").count() == 1
            assert await page.locator(f'a[href="/p/{other["id"]}"]').count() == 1
            await expect(page.locator("data.price").first).to_have_text("$43.21")
            assert await _axe(page) == []
            assert not errors, errors
            await context.close()

            # a withdrawn product's link: the 410 page, which passes axe too
            r = await client.delete(f"/api/products/{product['id']}", headers=owner[1]["headers"])
            assert r.status_code == 204
            context = await _context(browser, server, None)
            page = await context.new_page()
            response = await page.goto(link["url"])
            assert response is not None and response.status == 410
            assert await _axe(page) == []
            await context.close()
    finally:
        await db.dispose()
