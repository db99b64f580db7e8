"""LL-HLS behind a CDN: Debian's nginx with ``proxy_cache`` (``deploy/nginx-cdn.conf``,
rendered as shipped) in front of one ``livecommerce serve``; a crowd of low-latency
HLS clients with blocking reload costs the origin about one request per part."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from livecommerce.db.engine import Database
from livecommerce.settings import Settings
from scripts.hls_clients import HlsCrowd, origin_counts
from streaming.client import post_offer
from tests.multinode import Nginx
from tests.processes import ServeProcess
from tests.support import Actors, wait_for
from tests.test_streaming import Host

CDN_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx-cdn.conf"
CLIENTS = 60


@pytest.fixture
def origin(settings: Settings, tmp_path: Path) -> Iterator[ServeProcess]:
    (tmp_path / "origin").mkdir()
    process = ServeProcess(settings, tmp_path / "origin").wait_ready()
    yield process
    process.stop()


@pytest.fixture
def cdn(origin: ServeProcess, tmp_path: Path) -> Iterator[Nginx]:
    run_dir = tmp_path / "cdn"
    run_dir.mkdir()
    template = CDN_CONF.read_text()
    template, found = re.subn(
        r"proxy_cache_path \S+", f"proxy_cache_path {run_dir / 'cache'}", template
    )
    assert found == 1
    rendered = run_dir / "nginx-cdn.template"
    rendered.write_text(template)
    nginx = Nginx(run_dir, [f"127.0.0.1:{origin.port}"], template=rendered).wait_ready()
    yield nginx
    nginx.stop()


async def test_a_crowd_behind_the_cdn_costs_the_origin_about_one_request_per_part(
    origin: ServeProcess, cdn: Nginx, db: Database
) -> None:
    async with (
        httpx.AsyncClient(base_url=origin.url, timeout=30) as direct,
        httpx.AsyncClient(timeout=30) as http,
    ):
        actors = Actors(direct, db)
        show = await actors.show()
        sid = show["id"]
        host = Host(video_mime="video/H264", audio=False)
        crowd = HlsCrowd(cdn.url, sid, CLIENTS)
        try:
            r = await post_offer(direct, f"/whip/{sid}", host.pc, token=show["host"]["token"])
            assert r.status_code == 201, r.text
            r = await http.get(
                f"{cdn.url}/hls/{sid}/live.m3u8", params={"_HLS_msn": 0, "_HLS_part": 0}
            )
            assert r.status_code == 200, r.text
            await crowd.start()
            await wait_for(lambda: crowd.fetched >= CLIENTS * 2, timeout=30)  # all following
            before, parts_before = await origin_counts(direct, origin.url), set(crowd.parts)
            await wait_for(lambda: len(set(crowd.parts) - parts_before) >= 20, timeout=30)
            after, parts_after = await origin_counts(direct, origin.url), set(crowd.parts)
        finally:
            await crowd.stop()
            await host.close()
    parts = len(parts_after - parts_before)
    part_requests = after.get("part", 0) - before.get("part", 0)
    playlist_requests = after.get("playlist", 0) - before.get("playlist", 0)
    print(
        f"{CLIENTS} clients, {parts} parts: origin {part_requests:.0f} part and "
        f"{playlist_requests:.0f} playlist requests; {crowd.fetched} parts fetched, "
        f"{crowd.cache_hits} cache hits, {crowd.errors} errors"
    )
    assert part_requests / parts <= 1.1
    assert playlist_requests / parts <= 1.1
    assert crowd.fetched > parts * CLIENTS * 0.5  # the crowd really was there
    await asyncio.sleep(0)
