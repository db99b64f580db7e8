"""WHIP in, WHEP out, end to end over real HTTP with real aiortc peers.

The host is an aiortc publisher whose synthetic frames carry a frame counter
drawn as black/white bars (one bar per bit, robust to compression); viewers
are aiortc peers that decode what the relay forwards and read the counter
back, so "markers advance" proves real, decodable, in-order video went
through a server that never decoded it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack
from av import VideoFrame

from livecommerce import keys, redisclient
from streaming.client import post_offer
from streaming.component import StreamingComponent
from streaming.sdp import answer_video_mime
from tests.support import Actors, ServerThread, seconds, wait_for

WIDTH, HEIGHT, BITS = 320, 240, 10
BAR = WIDTH // BITS


def marker_frame(counter: int) -> VideoFrame:
    """A frame whose bars spell ``counter`` in binary (bit 0 leftmost)."""
    frame = VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
    y, u, v = frame.planes
    row = b"".join(bytes([235 if counter >> i & 1 else 16]) * BAR for i in range(BITS))
    y.update((row + bytes(y.line_size - len(row))) * HEIGHT)
    u.update(bytes([128]) * u.buffer_size)
    v.update(bytes([128]) * v.buffer_size)
    return frame


def read_marker(frame: VideoFrame) -> int:
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    data, stride = bytes(plane), plane.line_size
    value = 0
    for i in range(BITS):
        x = i * BAR + BAR // 2
        samples = [
            data[(HEIGHT // 2 + dy) * stride + x + dx] for dy in (-4, 0, 4) for dx in (-4, 4)
        ]
        if sum(samples) / len(samples) > 128:
            value |= 1 << i
    return value


class MarkerTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.counter = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            # Paced at 30 fps like a camera (pacing, not waiting for an event).
            await asyncio.sleep(max(0.0, self._start + self.counter / 30 - loop.time()))
        frame = marker_frame(self.counter)
        frame.pts, frame.time_base = self.counter * 3000, _VIDEO_TIME_BASE
        self.counter += 1
        return frame


_VIDEO_TIME_BASE = __import__("fractions").Fraction(1, 90000)


class Watcher:
    """A WHEP viewer that decodes video and reads the markers back."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.markers: list[int] = []
        self.audio_frames = 0
        self.first_frame_at: float | None = None
        self.location = ""
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if track.kind == "audio":
                    self.audio_frames += 1
                    continue
                if self.first_frame_at is None:
                    self.first_frame_at = asyncio.get_running_loop().time()
                assert isinstance(frame, VideoFrame)
                self.markers.append(read_marker(frame))
        except MediaStreamError:
            pass

    async def play(
        self, client: httpx.AsyncClient, session_id: int, token: str | None = None
    ) -> None:
        r = await post_offer(client, f"/whep/{session_id}", self.pc, token=token)
        assert r.status_code == 201, r.text
        assert r.headers["content-type"].startswith("application/sdp")
        self.location = r.headers["location"]

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def advancing(markers: list[int], n: int) -> bool:
    """At least ``n`` decoded frames whose counters only go forward."""
    return len(markers) >= n and all(b > a for a, b in zip(markers, markers[1:], strict=False))


def codec_caps(mime: str) -> list[Any]:
    caps = RTCRtpSender.getCapabilities("video").codecs
    return [c for c in caps if c.mimeType.lower() in (mime.lower(), "video/rtx")]


class Host:
    def __init__(self, *, video_mime: str = "video/VP8", audio: bool = True) -> None:
        self.pc = RTCPeerConnection()
        self.track = MarkerTrack()
        video = self.pc.addTransceiver(self.track, direction="sendonly")
        video.setCodecPreferences(codec_caps(video_mime))
        if audio:
            self.pc.addTransceiver(AudioStreamTrack(), direction="sendonly")

    async def close(self) -> None:
        await self.pc.close()


async def test_whip_to_whep_relays_decodable_video_and_audio(
    sclient: httpx.AsyncClient, sactors: Actors, redis_url: str
) -> None:
    show = await sactors.show()
    sid, host_token = show["id"], show["host"]["token"]
    viewer_user = await sactors.user("viewer")
    host = Host()
    watchers = [Watcher(), Watcher(), Watcher()]
    try:
        r = await post_offer(sclient, f"/whip/{sid}", host.pc, token=host_token)
        assert r.status_code == 201, r.text
        assert r.headers["location"].startswith(f"/whip/{sid}/")
        assert r.headers["content-type"].startswith("application/sdp") and r.headers["etag"]
        whip_location = r.headers["location"]
        # Publishing made the scheduled show live.
        assert (await sclient.get(f"/api/sessions/{sid}")).json()["status"] == "live"

        # Two viewers, one anonymous, one signed in: both decode advancing markers.
        await watchers[0].play(sclient, sid)
        await watchers[1].play(sclient, sid, token=viewer_user["token"])
        await wait_for(lambda: all(advancing(w.markers, 20) for w in watchers[:2]), timeout=20)
        assert all(w.audio_frames > 0 for w in watchers[:2])

        # A viewer joining mid-GOP (aiortc's encoder sends a keyframe only when asked)
        # sees its first picture quickly: the relay asked the host for a keyframe.
        loop = asyncio.get_running_loop()
        joined = loop.time()
        await watchers[2].play(sclient, sid)
        await wait_for(lambda: watchers[2].first_frame_at is not None, timeout=10)
        assert watchers[2].first_frame_at is not None
        assert watchers[2].first_frame_at - joined <= seconds(2)
        await wait_for(lambda: advancing(watchers[2].markers, 10), timeout=10)

        # Health: API, Redis hash, Prometheus.
        async def healthy() -> bool:
            body = (await sclient.get(f"/api/sessions/{sid}/media")).json()
            return bool(body["publishing"] and body["fps"] > 5 and body["viewers_on_media"] == 3)

        await wait_for(healthy, timeout=10)
        health = (await sclient.get(f"/api/sessions/{sid}/media")).json()
        assert health["codec"] == "video/VP8" and health["bitrate_bps"] > 0
        assert health["keyframes"] >= 2 and health["viewers"] == 3
        redis = redisclient.connect(redis_url)
        try:

            async def stored_in_redis() -> bool:
                stored = await redis.hgetall(keys.session_media(sid))
                return stored.get(b"publishing") == b"1" and float(stored[b"fps"]) > 0

            await wait_for(stored_in_redis, timeout=5)
            assert 0 < await redis.pttl(keys.session_media(sid)) <= 5000
        finally:
            await redis.aclose()
        gauge = f'livecommerce_stream_viewers_on_media{{session="{sid}"}} 3.0'

        async def exported() -> bool:
            return gauge in (await sclient.get("/metrics")).text  # refreshed every ~1 s

        await wait_for(exported, timeout=5)

        # A second publisher for the same session is refused.
        intruder = Host(audio=False)
        try:
            r = await post_offer(sclient, f"/whip/{sid}", intruder.pc, token=host_token)
            assert r.status_code == 409, r.text
            assert r.json()["code"] == "already_publishing"
        finally:
            await intruder.close()

        # Stopping one viewer frees it; a second DELETE is a 404.
        r = await sclient.delete(watchers[0].location)
        assert r.status_code == 200
        assert (await sclient.delete(watchers[0].location)).status_code == 404
        await wait_for(lambda: watchers[0].pc.connectionState == "closed", timeout=10)

        # Ending publishing frees the publisher but does not end the show.
        r = await sclient.delete(whip_location, headers=show["host"]["headers"])
        assert r.status_code == 200
        assert (await sclient.get(f"/api/sessions/{sid}")).json()["status"] == "live"
        assert (await sclient.get(f"/api/sessions/{sid}/media")).json()["publishing"] is False
    finally:
        for w in watchers:
            await w.close()
        await host.close()


async def test_h264_host_is_relayed_as_h264_and_hanging_up_frees_the_relay(
    sclient: httpx.AsyncClient, sactors: Actors, stream_server: ServerThread
) -> None:
    streaming = stream_server.component(StreamingComponent)
    show = await sactors.show()
    sid = show["id"]
    host = Host(video_mime="video/H264", audio=False)
    watcher = Watcher()
    try:
        r = await post_offer(sclient, f"/whip/{sid}", host.pc, token=show["host"]["token"])
        assert r.status_code == 201, r.text
        await watcher.play(sclient, sid)
        assert watcher.pc.remoteDescription is not None
        # The host's codec comes first (what the viewer's sender packs); VP8 stays
        # negotiated so the viewer survives a host who comes back with VP8.
        assert answer_video_mime(watcher.pc.remoteDescription.sdp) == "video/H264"
        await wait_for(lambda: advancing(watcher.markers, 15), timeout=20)
        assert sid in streaming.relays
    finally:
        await watcher.close()
        await host.close()
    # Both peers hung up without DELETE: the server notices (DTLS close) and frees all.
    await wait_for(lambda: sid not in streaming.relays, timeout=15)
    assert not [
        r
        for r in [*streaming.publishers.values(), *streaming.viewers.values()]
        if r.session_id == sid
    ]


async def test_ending_the_show_on_another_server_cuts_the_stream_relayed_here(
    sclient: httpx.AsyncClient,
    sactors: Actors,
    client: httpx.AsyncClient,
    stream_server: ServerThread,
) -> None:
    streaming = stream_server.component(StreamingComponent)
    show = await sactors.show()
    sid = show["id"]
    host = Host(audio=False)
    watcher = Watcher()
    try:
        r = await post_offer(sclient, f"/whip/{sid}", host.pc, token=show["host"]["token"])
        assert r.status_code == 201, r.text
        await watcher.play(sclient, sid)
        await wait_for(lambda: advancing(watcher.markers, 10), timeout=20)
        # The host ends the show through another server (its own process, in production):
        # the relay here learns it from the status the hub keeps in Redis.
        r = await client.post(f"/api/sessions/{sid}/end", headers=show["host"]["headers"])
        assert r.status_code == 200, r.text
        await wait_for(lambda: sid not in streaming.relays, timeout=10)
        await wait_for(
            lambda: host.pc.connectionState == "closed" and watcher.pc.connectionState == "closed",
            timeout=10,
        )
    finally:
        await watcher.close()
        await host.close()


async def test_whip_and_whep_refuse_what_they_cannot_serve(
    sclient: httpx.AsyncClient, sactors: Actors
) -> None:
    show = await sactors.show()
    sid, host = show["id"], show["host"]
    viewer = await sactors.user("viewer")
    pc = RTCPeerConnection()
    pc.addTransceiver(MarkerTrack(), direction="sendonly")
    try:
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
    finally:
        await pc.close()
    sdp = {"Content-Type": "application/sdp"}

    # No token: 401; a viewer's token: 403 — only the host publishes.
    r = await sclient.post(f"/whip/{sid}", content=offer, headers=sdp)
    assert r.status_code == 401
    r = await sclient.post(f"/whip/{sid}", content=offer, headers={**sdp, **viewer["headers"]})
    assert r.status_code == 403
    # Wrong content type: 415; garbage or media-less SDP: 400 with a reason.
    r = await sclient.post(
        f"/whip/{sid}", content=offer, headers={"Content-Type": "text/plain", **host["headers"]}
    )
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    for bad in (
        b"hello",
        b"v=0\r\n",
        b"v=0\r\nm=video x\r\n",
        b"\xff\xfe",
        offer.replace("a=ice-pwd", "a=x"),
    ):
        body = bad if isinstance(bad, bytes) else bad.encode()
        r = await sclient.post(f"/whip/{sid}", content=body, headers={**sdp, **host["headers"]})
        assert r.status_code == 400, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"]
    # A publish offer is not a play offer (its video is sendonly, a viewer's recvonly).
    r = await sclient.post(f"/whep/{sid}", content=offer, headers=sdp)
    assert r.status_code == 400 and "recvonly" in r.json()["detail"]
    # Unknown session: 404; unknown resources: 404; trickle ICE: a clear 405.
    r = await sclient.post("/whep/999999999", content=offer, headers=sdp)
    assert r.status_code == 404
    assert (await sclient.delete(f"/whep/{sid}/nope")).status_code == 404
    r = await sclient.delete(f"/whip/{sid}/nope", headers=host["headers"])
    assert r.status_code == 404
    r = await sclient.patch(f"/whip/{sid}/nope", content=b"a=candidate", headers=sdp)
    assert r.status_code == 405 and r.headers["allow"] == "DELETE"
    # An ended show takes neither publishers nor viewers.
    assert (
        await sclient.post(f"/api/sessions/{sid}/end", headers=host["headers"])
    ).status_code == 200
    r = await sclient.post(f"/whep/{sid}", content=offer, headers=sdp)
    assert r.status_code == 409
    r = await sclient.post(f"/whip/{sid}", content=offer, headers={**sdp, **host["headers"]})
    assert r.status_code == 409
