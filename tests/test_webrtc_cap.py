"""STREAM_MAX_WEBRTC_VIEWERS: a show's WebRTC audience is capped; past it, WHEP says where
the HLS stream is (503 ``webrtc_full`` with ``hls_url``) and the watch page plays that."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from livecommerce import keys, redisclient
from livecommerce.settings import Settings
from streaming.edge import EDGE_HEADER, edge_claim
from tests.support import Actors, ServerThread, streaming_only

OFFER = "v=0\r\n"  # never parsed: the cap is checked first


@pytest.fixture(scope="module")
def capped(settings: Settings) -> Iterator[ServerThread]:
    thread = ServerThread(settings.with_(stream_max_webrtc_viewers=2), parts=streaming_only)
    thread.start()
    yield thread
    thread.stop()


async def test_whep_past_the_cap_answers_503_webrtc_full_with_the_hls_url(
    capped: ServerThread, actors: Actors, settings: Settings
) -> None:
    show = await actors.show(live=True)
    sid = show["id"]
    redis = redisclient.connect(settings.redis_url)
    headers = {"Content-Type": "application/sdp"}
    try:
        async with httpx.AsyncClient(base_url=capped.url, timeout=30) as client:
            await redis.hset(keys.session_media(sid), mapping={"viewers": 1})
            r = await client.post(f"/whep/{sid}", content=OFFER, headers=headers)
            assert r.status_code != 503, r.text  # under the cap: on to the SDP (bad here)
            await redis.hset(keys.session_media(sid), mapping={"viewers": 2})
            r = await client.post(f"/whep/{sid}", content=OFFER, headers=headers)
            assert r.status_code == 503, r.text
            problem: dict[str, Any] = r.json()
            assert r.headers["content-type"].startswith("application/problem+json")
            assert problem["code"] == "webrtc_full"
            assert problem["hls_url"] == f"/hls/{sid}/live.m3u8"
            # An edge pulling the show is never refused: its viewers are counted there.
            # (Its claim is signed with the nodes' SECRET_KEY: a viewer cannot make one.)
            claim = edge_claim(settings.secret_key, sid, "node-x")
            r = await client.post(
                f"/whep/{sid}", content=OFFER, headers={**headers, EDGE_HEADER: claim}
            )
            assert r.status_code != 503, r.text
            r = await client.post(
                f"/whep/{sid}", content=OFFER, headers={**headers, EDGE_HEADER: "node-x"}
            )
            assert r.status_code == 503, r.text  # an unsigned claim is a viewer's
    finally:
        await redis.delete(keys.session_media(sid))
        await redis.aclose()
