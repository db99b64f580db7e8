"""The relay's rules without the network: keyframe gating, backlog dropping,
PLI coalescing, timestamps across publishers, SDP and codec checks."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.mediastreams import MediaStreamError

from livecommerce.errors import BadRequest, UnsupportedMediaType
from streaming.codecs import is_keyframe
from streaming.ice import ice_server
from streaming.keyframes import KeyframeRequester
from streaming.relay import SessionRelay
from streaming.sdp import check_media_type, parse_offer, with_start_bitrate
from tests.support import wait_for

VP8_KEY = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A]) + b"k" * 20  # bit 0 clear: keyframe
VP8_DELTA = bytes([0x11, 0x02, 0x00]) + b"d" * 20


def test_keyframe_detection() -> None:
    assert is_keyframe("video/VP8", VP8_KEY) and not is_keyframe("video/VP8", VP8_DELTA)
    idr = b"\x00\x00\x00\x01\x67sps\x00\x00\x00\x01\x68pps\x00\x00\x00\x01\x65slice"
    non_idr = b"\x00\x00\x00\x01\x41slice"
    assert is_keyframe("video/H264", idr) and not is_keyframe("video/H264", non_idr)
    assert not is_keyframe("video/VP8", b"")


async def test_a_viewer_joining_mid_gop_starts_at_the_next_keyframe() -> None:
    relay = SessionRelay(1, viewer_queue=8, keyframe_interval=1.0)
    sent: list[float] = []
    relay.attach_publisher(video_mime="video/VP8", send_pli=lambda: sent.append(1))
    track = relay.video.subscribe()
    relay.on_frame("video", "video/VP8", VP8_DELTA, 3000)  # mid-GOP: not decodable alone
    assert track.frames_dropped == 1 and not track.on_media
    recv = asyncio.ensure_future(track.recv())  # the sender starts reading: ask for a keyframe
    await asyncio.sleep(0)
    assert relay.keyframes.sent == 1 and sent == [1]
    relay.on_frame("video", "video/VP8", VP8_KEY, 6000)
    relay.on_frame("video", "video/VP8", VP8_DELTA, 9000)
    first = await asyncio.wait_for(recv, 1)
    assert bytes(first) == VP8_KEY and first.pts == 6000
    assert bytes(await track.recv()) == VP8_DELTA
    assert track.on_media and relay.video_frames == 3 and relay.keyframes_in == 1
    # Leaving frees the track and wakes its sender.
    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    relay.video.unsubscribe(track)
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(pending, 1)
    assert not relay.video.tracks
    relay.close()


async def test_a_viewer_that_falls_behind_drops_its_backlog_and_resumes_at_a_keyframe() -> None:
    relay = SessionRelay(1, viewer_queue=4, keyframe_interval=60.0)
    relay.attach_publisher(video_mime="video/VP8", send_pli=lambda: None)
    slow, fast = relay.video.subscribe(), relay.video.subscribe()
    relay.on_frame("video", "video/VP8", VP8_KEY, 0)
    for i in range(1, 4):
        relay.on_frame("video", "video/VP8", VP8_DELTA, i * 3000)
    for _ in range(4):
        await fast.recv()  # the fast viewer keeps up; the slow one reads nothing
    relay.on_frame("video", "video/VP8", VP8_DELTA, 12000)  # slow's queue overflows
    assert slow.frames_dropped == 4 and fast.frames_dropped == 0
    relay.on_frame("video", "video/VP8", VP8_DELTA, 15000)  # still waiting for a keyframe
    relay.on_frame("video", "video/VP8", VP8_KEY, 18000)
    assert [bytes(await slow.recv()) for _ in range(1)] == [VP8_KEY]
    assert [(await fast.recv()).pts for _ in range(3)] == [12000, 15000, 18000]
    relay.close()


async def test_keyframe_requests_are_coalesced_to_one_per_interval() -> None:
    now = [100.0]
    fired: list[float] = []
    requester = KeyframeRequester(
        lambda: fired.append(now[0]), min_interval=0.05, clock=lambda: now[0]
    )
    requester.request()
    requester.request()
    requester.request()
    assert fired == [100.0]  # the first at once, the others wait for the window's end
    now[0] = 100.05
    await wait_for(lambda: len(fired) == 2, timeout=2)  # the deferred one, on the loop's timer
    assert requester.requested == 3 and requester.sent == 2
    requester.close()


def test_timestamps_continue_when_the_host_reconnects() -> None:
    relay = SessionRelay(1)
    track = relay.audio.subscribe()
    first, second = (lambda: None), (lambda: None)
    relay.attach_publisher(video_mime=None, send_pli=first)
    relay.on_frame("audio", "audio/opus", b"a", 0)
    relay.on_frame("audio", "audio/opus", b"b", 960)
    relay.detach_publisher(first)
    relay.attach_publisher(video_mime=None, send_pli=second)  # its clock restarts at 0
    relay.on_frame("audio", "audio/opus", b"c", 0)
    queued = [track._queue.get_nowait() for _ in range(3)]
    assert [p.pts for p in queued if p is not None] == [0, 960, 1920]
    relay.close()


def test_offers_are_checked_before_aiortc_sees_them() -> None:
    with pytest.raises(UnsupportedMediaType):
        check_media_type("application/json")
    check_media_type("application/sdp; charset=utf-8")
    base = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
        "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
        "a=mid:0\r\na=rtpmap:96 VP8/90000\r\na=rtcp-mux\r\n"
    )
    assert parse_offer((base + "a=sendonly\r\n").encode(), role="publish").type == "offer"
    with pytest.raises(BadRequest, match="recvonly"):
        parse_offer((base + "a=sendonly\r\n").encode(), role="play")
    with pytest.raises(BadRequest, match="codecs"):
        parse_offer(base.replace("VP8", "AV1").encode() + b"a=sendonly\r\n", role="publish")
    with pytest.raises(BadRequest, match="more than one video"):
        parse_offer((base + base[base.index("m=video") :]).encode(), role="publish")
    with pytest.raises(BadRequest, match="fingerprint"):
        parse_offer(base.replace("a=fingerprint", "a=x").encode(), role="publish")


def test_ice_servers_from_settings() -> None:
    turn = ice_server("turn:user:secret@turn.example.com:3478?transport=tcp")
    assert turn.urls == "turn:turn.example.com:3478?transport=tcp"
    assert (turn.username, turn.credential) == ("user", "secret")
    assert ice_server("stun:stun.example.com:3478").urls == "stun:stun.example.com:3478"
    with pytest.raises(ValueError):
        ice_server("http://nope")


def test_the_answer_tells_a_browser_host_where_to_start_its_bitrate() -> None:
    answer = (
        "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 minptime=10\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\n"
        "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
        "a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1\r\n"
    )
    lines = with_start_bitrate(answer, 2500).split("\r\n")
    assert "a=fmtp:102 packetization-mode=1;x-google-start-bitrate=2500" in lines
    assert "a=fmtp:96 x-google-start-bitrate=2500" in lines  # VP8 had no fmtp line
    assert "a=fmtp:97 apt=96" in lines and "a=fmtp:111 minptime=10" in lines
    assert lines[-1] == ""  # still ends with CRLF


def test_a_new_publisher_restarts_every_viewer_at_its_first_keyframe() -> None:
    relay = SessionRelay(1, keyframe_interval=60.0)
    plis: list[str] = []
    old, new = (lambda: plis.append("old")), (lambda: plis.append("new"))
    relay.attach_publisher(video_mime="video/VP8", send_pli=old)
    track = relay.video.subscribe()
    relay.on_frame("video", "video/VP8", VP8_KEY, 0)
    relay.on_frame("video", "video/VP8", VP8_DELTA, 3000)  # queued, never read
    relay.detach_publisher(old)
    relay.attach_publisher(video_mime="video/H264", send_pli=new)
    # The old host's frames are gone, the new host is asked for a keyframe, and its
    # frames before one are not decodable.
    assert track._queue.empty() and track.frames_dropped == 2 and plis == ["new"]
    relay.on_frame("video", "video/H264", b"\x00\x00\x00\x01\x41slice", 0)
    assert track._queue.empty()
    relay.on_frame("video", "video/H264", b"\x00\x00\x00\x01\x65idr", 3000)
    assert bytes(track._queue.get_nowait() or b"") == b"\x00\x00\x00\x01\x65idr"
    relay.close()
