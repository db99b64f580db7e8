"""The media edge when things go wrong, with real aiortc peers over real HTTP: a host
whose encoder dies, viewers waiting for an H.264 host, peers torn down while they
connect."""

from __future__ import annotations

import asyncio
import gc
import logging

import httpx
import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection

from livecommerce.observability import configure_logging
from livecommerce.settings import Settings, SettingsError
from streaming.client import post_offer
from streaming.component import StreamingComponent
from tests.support import Actors, ServerThread, seconds, wait_for
from tests.test_streaming import Host, Watcher, advancing


def _from_new_host(markers: list[int], seen: int) -> list[int]:
    """The markers since the counter went back (a new host counts from 0 again;
    frames of the old one seen after ``seen`` were still in flight)."""
    drop = next((k for k in range(max(seen, 1), len(markers)) if markers[k] < markers[k - 1]), None)
    return [] if drop is None else markers[drop:]


def _streaming(server: ServerThread) -> StreamingComponent:
    component = server.component(StreamingComponent)
    return component


async def test_a_host_whose_encoder_died_goes_live_again_and_viewers_stay(
    sclient: httpx.AsyncClient, sactors: Actors, stream_server: ServerThread
) -> None:
    streaming = _streaming(stream_server)
    show = await sactors.show()
    sid, token = show["id"], show["host"]["token"]
    first, second, watcher = Host(audio=False), Host(audio=False), Watcher()
    try:
        r = await post_offer(sclient, f"/whip/{sid}", first.pc, token=token)
        assert r.status_code == 201, r.text
        lost_location = r.headers["location"]
        await watcher.play(sclient, sid)
        await wait_for(lambda: advancing(watcher.markers, 10), timeout=20)

        # The host's encoder dies: no more media, no DELETE, its peer connection stays up
        # (ICE consent would keep it for ~30 s), and the host lost its Location.
        first.track.stop()
        publisher = streaming.publisher_of(sid)
        assert publisher is not None
        idle = streaming.settings.stream_publisher_idle_s
        await wait_for(lambda: publisher.idle_s >= idle, timeout=10)
        assert first.pc.connectionState == "connected" and not publisher.closed
        seen = len(watcher.markers)

        # Publishing again replaces the silent publisher at once.
        r = await post_offer(sclient, f"/whip/{sid}", second.pc, token=token)
        assert r.status_code == 201, r.text
        assert publisher.closed and streaming.publisher_of(sid) is not publisher
        r = await sclient.delete(lost_location, headers=show["host"]["headers"])
        assert r.status_code == 404

        # The viewer kept its connection and decodes the new host's frames.
        await wait_for(lambda: advancing(_from_new_host(watcher.markers, seen), 10), timeout=10)
        assert watcher.pc.connectionState == "connected"
        assert len([v for v in streaming.viewers.values() if v.session_id == sid]) == 1

        # A publisher that is sending keeps its slot: a second tab gets 409.
        third = Host(audio=False)
        try:
            r = await post_offer(sclient, f"/whip/{sid}", third.pc, token=token)
            assert r.status_code == 409 and r.json()["code"] == "already_publishing"
        finally:
            await third.close()
    finally:
        await watcher.close()
        await first.close()
        await second.close()


async def test_viewers_waiting_for_an_h264_host_keep_their_connection_and_get_video(
    sclient: httpx.AsyncClient, sactors: Actors, stream_server: ServerThread
) -> None:
    streaming = _streaming(stream_server)
    show = await sactors.show()
    sid = show["id"]
    watchers = [Watcher() for _ in range(10)]
    host = Host(video_mime="video/H264", audio=False)
    try:
        # The audience arrives before the host (who publishes H.264, like OBS).
        await asyncio.gather(*(w.play(sclient, sid) for w in watchers))
        waiting = {v.id for v in streaming.viewers.values() if v.session_id == sid}
        assert len(waiting) == len(watchers)
        await wait_for(
            lambda: all(w.pc.connectionState == "connected" for w in watchers), timeout=20
        )
        live_at = asyncio.get_running_loop().time()
        r = await post_offer(sclient, f"/whip/{sid}", host.pc, token=show["host"]["token"])
        assert r.status_code == 201, r.text

        await wait_for(lambda: all(advancing(w.markers, 5) for w in watchers), timeout=20)
        # Nobody was dropped to reconnect: the same WHEP resources, still connected.
        assert {v.id for v in streaming.viewers.values() if v.session_id == sid} == waiting
        assert all(w.pc.connectionState == "connected" for w in watchers)
        assert all(
            v.video_mime == "video/H264" for v in streaming.viewers.values() if v.id in waiting
        )
        first = max(w.first_frame_at or 0.0 for w in watchers) - live_at
        assert first <= seconds(2), f"the last waiting viewer saw video {first:.2f} s after go-live"
    finally:
        await asyncio.gather(*(w.close() for w in watchers))
        await host.close()


async def test_viewers_deleted_while_connecting_leave_nothing_behind(
    sclient: httpx.AsyncClient,
    sactors: Actors,
    stream_server: ServerThread,
    caplog: pytest.LogCaptureFixture,
) -> None:
    streaming = _streaming(stream_server)
    show = await sactors.show()
    sid = show["id"]
    caplog.set_level(logging.DEBUG, logger="asyncio")
    for i in range(16):
        # One transport for audio and video, as browsers bundle them: closing it while
        # video's DTLS starts made aiortc's connect task fail on audio's closed transport.
        pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        try:
            r = await post_offer(sclient, f"/whep/{sid}", pc)
            assert r.status_code == 201, r.text
            # Gone while the server's side is still starting ICE/DTLS (some 0-75 ms in).
            await asyncio.sleep(i * 0.005)
            assert (await sclient.delete(r.headers["location"])).status_code == 200
        finally:
            await pc.close()
    # Deleted viewers hold nothing: no resource, no relay, no sender tasks.
    assert not [v for v in streaming.viewers.values() if v.session_id == sid]
    assert sid not in streaming.relays

    # Nor any task of theirs (connect, ICE, DTLS, RTP, RTCP) is left on the server's loop.
    loop = streaming._health_task.get_loop() if streaming._health_task else None
    assert loop is not None

    async def media_tasks() -> list[str]:
        return [
            t.get_coro().__qualname__  # type: ignore[union-attr]
            for t in asyncio.all_tasks()
            if any(
                part in getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "")
                for part in ("/aiortc/", "/aioice/", "aiortc_hooks")
            )
        ]

    left: list[str] = []

    async def no_media_tasks() -> bool:
        left[:] = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(media_tasks(), loop))
        return not left

    try:
        await wait_for(no_media_tasks, timeout=10)
    except AssertionError:
        raise AssertionError(f"tasks left on the server: {left}") from None
    gc.collect()  # a finished task nobody awaited reports its exception when collected
    unobserved = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert not unobserved, unobserved


def test_library_chatter_is_held_at_warning_unless_asked_for() -> None:
    root = logging.getLogger()
    saved = (
        root.handlers[:],
        root.level,
        {n: logging.getLogger(n).level for n in ("aioice", "aiortc")},
    )
    try:
        configure_logging("INFO")
        # aioice logs every candidate pair check at INFO: not at the server's INFO.
        assert not logging.getLogger("aioice.ice").isEnabledFor(logging.INFO)
        assert not logging.getLogger("aiortc.rtcrtpreceiver").isEnabledFor(logging.INFO)
        assert logging.getLogger("aioice.ice").isEnabledFor(logging.WARNING)
        assert logging.getLogger("livecommerce.streaming").isEnabledFor(logging.INFO)
        settings = Settings.from_env({"LIBRARY_LOG_LEVEL": "debug"})
        configure_logging("INFO", library_level=settings.library_log_level)
        assert logging.getLogger("aioice.ice").isEnabledFor(logging.DEBUG)
        with pytest.raises(SettingsError, match="LIBRARY_LOG_LEVEL"):
            Settings.from_env({"LIBRARY_LOG_LEVEL": "chatty"})
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
