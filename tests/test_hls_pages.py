"""What the pages need to play HLS: hls.js from npm, served under the pages' CSP."""

from __future__ import annotations

import httpx

from livecommerce.web.component import NODE_MODULES, VENDOR


async def test_hls_js_is_served_from_node_modules_and_a_missing_file_is_a_404_problem(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/static/vendor/hls.min.mjs")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.content == (NODE_MODULES / VENDOR["hls.min.mjs"]).read_bytes()
    assert b"export" in r.content[-2000:]  # the ES module build
    r = await client.get("/static/vendor/nothing.js")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "not_found"
