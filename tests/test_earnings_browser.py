"""The creator's earnings page in real Chromium against a real server whose clock the test
moves: a paid payout and a pending commission show with the locale's money, the payout's
statement opens with its entry, and axe-core finds nothing serious."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from cart.payouts.gateway import TestPayoutGateway
from cart.payouts.run import run_payouts
from livecommerce.db.engine import Database
from livecommerce.settings import Settings
from tests.support import Actors, ServerThread, random_address, seconds
from tests.test_a11y_browser import AXE, _axe
from tests.test_browser import launched_chromium, sign_in
from tests.test_payouts import _earn

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with launched_chromium() as chromium:
        yield chromium


async def test_earnings_page_shows_pending_paid_and_a_statement(
    browser: Any, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    server = ServerThread(settings).start()
    db = Database(database_url)
    try:
        headers = {"X-Forwarded-For": random_address()}
        async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=headers) as client:
            actors = Actors(client, db)
            host = await actors.user("host")
            await _earn(client, actors, host=host, price=2000)  # 200, paid below
            server.clock.advance(days=settings.return_window_days + 1)
            report = await run_payouts(
                db,
                TestPayoutGateway(tmp_path / "bank.jsonl"),
                now=server.clock.now(),
                minimum_minor=100,
                creator_ids=[host["id"]],
            )
            assert len(report.paid) == 1
            order, _, _ = await _earn(client, actors, host=host, price=3000)  # 300, pending
            r = await client.post(  # a share link that has sold nothing yet
                "/api/links",
                json={"target": "product", "id": order["items"][0]["product_id"]},
                headers=host["headers"],
            )
            assert r.status_code == 201, r.text
            link = r.json()
            me = (await client.get("/api/me", headers=host["headers"])).json()
        context = await browser.new_context(
            base_url=server.url,
            locale="en-US",
            extra_http_headers={"Accept-Language": "en-US", "X-Forwarded-For": random_address()},
        )
        await sign_in(context, host["token"], me)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto("/earnings")
        wait = seconds(15) * 1000
        usd = page.locator('#totals-table tr[data-currency="USD"]')
        await expect(usd.locator('[data-figure="pending"]')).to_have_text("$3.00", timeout=wait)
        await expect(usd.locator('[data-figure="paid"]')).to_have_text("$2.00")
        await expect(usd.locator('[data-figure="payable"]')).to_have_text("$0.00")
        await expect(page.locator("nav a[href='/earnings']")).to_have_attribute(
            "aria-current", "page"
        )
        payout = page.locator(f'[data-payout-id="{report.paid[0]}"]')
        await expect(payout).to_contain_text("$2.00")
        await expect(payout).to_contain_text("Paid")
        await payout.locator("button").click()
        statement = page.locator("#statement-table")
        await expect(statement.locator("tbody tr")).to_have_count(1)
        await expect(statement.locator("tbody tr")).to_contain_text("Earned")
        await expect(page.locator('#entries-table tr[data-status="pending"]')).to_have_count(1)
        link_id, code = link["id"], link["code"]
        idle = page.locator(f'#links-table tr[data-link="{link_id}"]')
        await expect(idle.locator('[data-figure="pending"]')).to_have_text("—")
        await expect(idle.locator("th a")).to_have_text(f"/l/{code}")
        assert await _axe(page, AXE) == []
        await page.screenshot(path=str(tmp_path / "earnings.png"), full_page=True)
        assert errors == []
        await context.close()
    finally:
        await db.dispose()
        server.stop()
