"""Media in real headless Chromium.

A browser host reaches full quality fast: Chromium publishes its fake 1280x720
camera over WHIP, and the server reads the size of the key frames it receives
(VP8 key frames carry it). Chromium starts a 720p camera at a low resolution and
raises it as its bandwidth estimate grows, so the time to 720p is the time the
server's answer and feedback let the browser ramp.

A browser viewer that connected before an H.264 host keeps its connection: its
answer allowed H.264 too, and the server's sender switches to it."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import httpx
import pytest

from livecommerce.db.engine import Database
from streaming.component import StreamingComponent
from tests.support import Actors, ServerThread, seconds, wait_for

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Plain IP host candidates (not mDNS names), so aiortc on 127.0.0.1 can reach them.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

# Watch from the page (WHEP, video only) and report what the player decodes.
_WATCH = """async ({sid}) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", {direction: "recvonly"});
  const video = document.createElement("video");
  video.id = "v"; video.muted = true; video.autoplay = true;
  document.body.appendChild(video);
  pc.ontrack = e => { video.srcObject = e.streams[0] ?? new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => pc.iceGatheringState === "complete" ? r() :
    pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && r()));
  const res = await fetch(`/whep/${sid}`, {method: "POST", body: pc.localDescription.sdp,
    headers: {"Content-Type": "application/sdp"}});
  if (res.status !== 201) throw new Error(await res.text());
  await pc.setRemoteDescription({type: "answer", sdp: await res.text()});
  window.viewer = pc;
}"""
_PLAYER = """async () => {
  const stats = await window.viewer.getStats();
  let frames = 0, codec = null;
  for (const s of stats.values()) {
    if (s.type === "inbound-rtp" && s.kind === "video") {
      frames = s.framesDecoded; codec = s.codecId;
    }
  }
  const c = codec && stats.get(codec);
  return {state: window.viewer.connectionState, width: document.getElementById("v").videoWidth,
          frames, mime: c ? c.mimeType : null};
}"""

# Go live from the page as docs/streaming.md shows (720p camera, WHIP POST).
_PUBLISH = """async ({sid, token}) => {
  const stream = await navigator.mediaDevices.getUserMedia(
    {video: {width: 1280, height: 720, frameRate: 30}, audio: false});
  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) pc.addTransceiver(track, {direction: "sendonly"});
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => pc.iceGatheringState === "complete" ? r() :
    pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && r()));
  const res = await fetch(`/whip/${sid}`, {method: "POST", body: pc.localDescription.sdp,
    headers: {"Content-Type": "application/sdp", "Authorization": `Bearer ${token}`}});
  if (res.status !== 201) throw new Error(await res.text());
  const answer = await res.text();
  await pc.setRemoteDescription({type: "answer", sdp: answer});
  window.publisher = pc;
  return answer;
}"""


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = shutil.which(CHROMIUM) or CHROMIUM
    if not Path(path).exists():
        pytest.fail(f"Chromium not found at {path}: scripts/install_browser installs it")
    return path


async def test_a_chromium_host_reaches_720p_within_seconds_of_going_live(
    stream_server: ServerThread, db: Database, chromium_path: str
) -> None:
    from playwright.async_api import async_playwright

    streaming = stream_server.component(StreamingComponent)
    async with httpx.AsyncClient(base_url=stream_server.url, timeout=30) as client:
        show = await Actors(client, db).show()
    sid = show["id"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{stream_server.url}/readyz")  # same origin as /whip
            answer = await page.evaluate(_PUBLISH, {"sid": sid, "token": show["host"]["token"]})
            live_at = asyncio.get_running_loop().time()
            # The answer keeps the feedback Chromium needs to raise its bitrate.
            assert "goog-remb" in answer

            sizes: list[tuple[float, tuple[int, int] | None]] = []

            def at_720p() -> bool:
                relay = streaming.relays.get(sid)
                size = relay.video_size if relay is not None else None
                if not sizes or sizes[-1][1] != size:
                    sizes.append((asyncio.get_running_loop().time() - live_at, size))
                return size == (1280, 720)

            await wait_for(at_720p, timeout=40, interval=0.1)
            took = sizes[-1][0]
            assert took <= seconds(5), f"720p only after {took:.1f} s: {sizes}"

            # And it stays there: the server's REMB and loss reports do not pull it down.
            relay = streaming.relays[sid]
            bytes0, frames0, t0 = relay.video_bytes, relay.video_frames, live_at + took
            await asyncio.sleep(5)  # a measuring window, not a wait for an event
            elapsed = asyncio.get_running_loop().time() - t0
            kbps = (relay.video_bytes - bytes0) * 8 / elapsed / 1000
            fps = (relay.video_frames - frames0) / elapsed
            print(f"720p after {took:.2f} s; then {kbps:.0f} kbit/s, {fps:.0f} fps; sizes {sizes}")
            assert relay.video_size == (1280, 720), sizes
        finally:
            await browser.close()


async def test_a_chromium_viewer_waiting_for_an_h264_host_plays_it_on_the_same_connection(
    stream_server: ServerThread, db: Database, chromium_path: str
) -> None:
    from playwright.async_api import async_playwright

    from streaming.client import post_offer
    from tests.test_streaming import Host

    async with httpx.AsyncClient(base_url=stream_server.url, timeout=30) as client:
        show = await Actors(client, db).show()
        sid = show["id"]
        host = Host(video_mime="video/H264", audio=False)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path, args=ARGS)
            try:
                page = await browser.new_page()
                await page.goto(f"{stream_server.url}/readyz")
                await page.evaluate(_WATCH, {"sid": sid})

                async def connected() -> bool:
                    return bool((await page.evaluate(_PLAYER))["state"] == "connected")

                await wait_for(connected, timeout=20)
                live_at = asyncio.get_running_loop().time()
                r = await post_offer(client, f"/whip/{sid}", host.pc, token=show["host"]["token"])
                assert r.status_code == 201, r.text

                async def playing() -> bool:
                    player = await page.evaluate(_PLAYER)
                    return bool(player["frames"] > 10 and player["width"] > 0)

                await wait_for(playing, timeout=20)
                took = asyncio.get_running_loop().time() - live_at
                player = await page.evaluate(_PLAYER)
                assert player["state"] == "connected" and player["mime"] == "video/H264", player
                assert took <= seconds(2), f"video only {took:.2f} s after go-live"
            finally:
                await browser.close()
                await host.close()
