"""LL-HLS from the relay: real WHIP hosts (aiortc, H.264 and VP8), real HTTP, the
playlists parsed with the ``m3u8`` library, the fMP4 media decoded with PyAV."""

from __future__ import annotations

import array
import asyncio
import fractions
import io
import json
import math
from typing import Any

import av
import httpx
import m3u8
import pytest

from livecommerce import keys, redisclient
from scripts.relay_peers import ToneTrack
from streaming.client import post_offer
from streaming.component import StreamingComponent
from streaming.hls.audio import MAX_LAG_S, AacTrack, opus_channels
from streaming.hls.fmp4 import annexb_nals
from streaming.hls.playlist import Timeline, live_playlist, vod_playlist
from streaming.hls.segmenter import Segmenter
from streaming.hls.store import DirectoryStore
from tests.support import Actors, ServerThread, wait_for
from tests.test_streaming import Host, read_marker

_TB = fractions.Fraction(1, 90_000)


def _h264_frames(n: int, *, keyframe_every: int) -> list[tuple[bytes, int, bool]]:
    """``n`` frames of 30 fps H.264 (Annex B) from libx264, a keyframe every so often."""
    encoder: Any = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 160, 120, "yuv420p"
    encoder.time_base = _TB
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": "keyint=900"}
    out: list[tuple[bytes, int, bool]] = []
    for i in range(n):
        frame = av.VideoFrame(160, 120, "yuv420p")
        frame.pts, frame.time_base = i * 3000, _TB
        if i % keyframe_every == 0:
            frame.pict_type = av.video.frame.PictureType.I
        out += [(bytes(p), i * 3000, bool(p.is_keyframe)) for p in encoder.encode(frame)]
    return out


def _check_live(text: str, part_target: float) -> m3u8.M3U8:
    """The LL-HLS rules the players rely on, checked on the parsed playlist."""
    playlist = m3u8.loads(text)
    assert playlist.version >= 9
    assert playlist.target_duration is not None
    assert playlist.part_inf.part_target == pytest.approx(part_target)
    control = playlist.server_control
    assert control.can_block_reload == "YES"
    assert control.part_hold_back >= 3 * part_target - 1e-6
    assert playlist.segment_map and playlist.segment_map[0].uri == "init.mp4"
    assert playlist.preload_hint is not None and playlist.preload_hint.hint_type == "PART"
    numbers = [s.media_sequence for s in playlist.segments]
    assert numbers == list(range(playlist.media_sequence, playlist.media_sequence + len(numbers)))
    for segment in playlist.segments:
        assert segment.program_date_time is not None or segment is playlist.segments[-1]
        if segment.uri:
            assert segment.duration <= playlist.target_duration + 0.5
        for part in segment.parts:
            assert part.duration <= part_target + 1e-6
        if segment.parts:
            assert segment.parts[0].independent == "YES", "a segment starts with a keyframe"
    return playlist


def _decode(init: bytes, media: bytes) -> int:
    with av.open(io.BytesIO(init + media), "r") as container:
        return len(list(container.decode(video=0)))


def _rms(frame: av.AudioFrame) -> float:
    """The RMS of a decoded AAC frame (float planar samples, full scale 1.0)."""
    samples = array.array("f", bytes(frame.planes[0])[: frame.samples * 4])
    return math.sqrt(sum(x * x for x in samples) / len(samples))


def test_segmenter_cuts_parts_and_keyframe_aligned_segments(tmp_path: Any) -> None:
    store = DirectoryStore(tmp_path)
    timeline = Timeline(part_target=0.3, segment_target=2.0)
    segmenter = Segmenter(store, "sessions/1/", timeline, clock_ms=lambda: 1_700_000_000_000)
    for data, pts, key in _h264_frames(200, keyframe_every=30):
        segmenter.add(data, pts, key)
    playlist = _check_live(live_playlist(timeline), 0.3)
    assert len(timeline.segments) >= 2 and playlist.segments
    for seg in timeline.segments:
        assert seg.independent and 1.5 <= seg.duration <= 2.0 + 1e-6  # cut at keyframes
        assert seg.size == sum(p.size for p in seg.parts)
        media = store.read(f"sessions/1/seg{seg.msn}.m4s")
        assert media is not None and len(media) == seg.size
    init = store.read("sessions/1/init.mp4")
    assert init is not None
    first = timeline.segments[0]
    media = store.read("sessions/1/seg0.m4s")
    assert media is not None and _decode(init, media) == round(first.duration * 30)
    part = store.read("sessions/1/part0.0.m4s")
    assert part is not None and _decode(init, part) == round(first.parts[0].duration * 30)
    assert timeline.stream_start_ms == 1_700_000_000_000
    segmenter.finish()
    timeline.ended = True
    vod = m3u8.loads(vod_playlist(timeline))
    assert vod.is_endlist and vod.playlist_type == "vod"
    assert sum(s.duration for s in vod.segments) == pytest.approx(200 / 30, abs=0.05)


def _opus_tone(n: int) -> list[bytes]:
    """``n`` 20 ms Opus frames (stereo) of a 440 Hz tone, as a WebRTC host sends them."""
    encoder: Any = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "stereo", "s16"
    encoder.time_base = fractions.Fraction(1, 48_000)
    out: list[bytes] = []
    for i in range(n):
        wave = (8000 * math.sin(2 * math.pi * 440 * (i * 960 + k) / 48_000) for k in range(960))
        pcm = array.array("h", (round(x) for x in wave for _ in range(2)))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate, frame.pts = 48_000, i * 960
        out += [bytes(p) for p in encoder.encode(frame)]
    return out


def test_audio_that_stops_is_kept_up_with_the_video_by_silence(tmp_path: Any) -> None:
    store = DirectoryStore(tmp_path)
    timeline = Timeline(part_target=0.3, segment_target=2.0)
    segmenter = Segmenter(store, "sessions/1/", timeline)
    segmenter.audio = audio = AacTrack(opus_channels(_opus_tone(1)[0]))
    opus = _opus_tone(50)  # the host's audio stops after 1 s
    sent = 0
    for data, pts, key in _h264_frames(150, keyframe_every=30):
        arrived = 100 + pts / 90_000
        segmenter.add(data, pts, key, arrived)
        position = segmenter.audio_position(pts)
        if audio.needs_reference and position is not None:
            audio.reference(position, arrived)
        while sent < len(opus) and sent * 0.02 <= arrived - 100:
            audio.add(opus[sent], 123_456 + sent * 960, 100 + sent * 0.02)  # its own RTP clock
            sent += 1
    segmenter.finish()
    assert audio.config.channels == 2 and audio.silence_samples > 0
    media = b"".join(store.read(f"sessions/1/seg{s.msn}.m4s") or b"" for s in timeline.segments)
    init = store.read("sessions/1/init.mp4") or b""
    with av.open(io.BytesIO(init + media), "r") as container:
        sounds = list(container.decode(audio=0))
    times = [f.time for f in sounds]
    assert all(t is not None for t in times)
    steps = {round((b - a) * 48_000) for a, b in zip(times, times[1:], strict=False)}  # type: ignore[operator]
    assert steps == {1024}, "one continuous track"
    assert _rms(sounds[10]) > 0.05 and _rms(sounds[-1]) == 0  # the tone, then silence
    # It reaches to within the allowed lag of the video's end (5 s).
    assert sounds[-1].time is not None and sounds[-1].time >= 5 - MAX_LAG_S - 0.1


def test_annexb_split_keeps_every_nal_unit() -> None:
    au = b"\x00\x00\x00\x01\x67sps\x00\x00\x01\x68pps\x00\x00\x00\x01\x65slice\x00"
    assert [n[:1] for n in annexb_nals(au)] == [b"\x67", b"\x68", b"\x65"]


async def _blocking_next(client: httpx.AsyncClient, sid: int, playlist: m3u8.M3U8) -> str:
    """Ask for the playlist holding the preload-hinted part (blocking reload)."""
    hint = playlist.preload_hint.uri  # part<msn>.<k>.m4s
    msn, part = hint.removeprefix("part").removesuffix(".m4s").split(".")
    r = await client.get(
        f"/hls/{sid}/live.m3u8", params={"_HLS_msn": msn, "_HLS_part": part}, timeout=30
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert "max-age=" in r.headers["cache-control"]
    assert f'URI="{hint}"' in r.text, "the blocking reload returned with the part it waited for"
    return r.text


async def test_an_h264_host_becomes_ll_hls_and_a_replay(
    sclient: httpx.AsyncClient,
    sactors: Actors,
    client: httpx.AsyncClient,
    stream_server: ServerThread,
    redis_url: str,
) -> None:
    streaming = stream_server.component(StreamingComponent)
    part_target = streaming.settings.hls_part_target_s
    show = await sactors.show()
    sid = show["id"]
    assert (await sclient.get(f"/hls/{sid}/live.m3u8")).status_code == 404
    host = Host(video_mime="video/H264", audio=False)
    try:
        r = await post_offer(sclient, f"/whip/{sid}", host.pc, token=show["host"]["token"])
        assert r.status_code == 201, r.text
        # Before any part exists a blocking request waits for the first one.
        r = await sclient.get(
            f"/hls/{sid}/live.m3u8", params={"_HLS_msn": 0, "_HLS_part": 0}, timeout=30
        )
        assert r.status_code == 200, r.text
        playlist = _check_live(r.text, part_target)
        assert r.headers["cache-control"].startswith("public, max-age=")

        # Blocking reloads follow the parts as they are made.
        for _ in range(3):
            playlist = _check_live(await _blocking_next(sclient, sid, playlist), part_target)

        # Until the first segment is complete.
        r = await sclient.get(f"/hls/{sid}/live.m3u8", params={"_HLS_msn": 1}, timeout=30)
        assert r.status_code == 200, r.text
        playlist = _check_live(r.text, part_target)
        assert playlist.segments[0].uri == "seg0.m4s"
        assert (
            await sclient.get(f"/hls/{sid}/live.m3u8", params={"_HLS_msn": 99})
        ).status_code == 400
        assert (
            await sclient.get(f"/hls/{sid}/live.m3u8", params={"_HLS_part": 1})
        ).status_code == 400

        # The media: immutable, decodable, ranged.
        init = await sclient.get(f"/hls/{sid}/init.mp4")
        assert init.status_code == 200
        assert init.headers["cache-control"] == "public, max-age=31536000, immutable"
        seg = await sclient.get(f"/hls/{sid}/seg0.m4s")
        assert seg.status_code == 200 and seg.headers["content-type"] == "video/iso.segment"
        frames = _decode(init.content, seg.content)
        assert frames >= 20
        part = await sclient.get(f"/hls/{sid}/part0.0.m4s")
        assert _decode(init.content, part.content) >= 1
        with av.open(io.BytesIO(init.content + seg.content), "r") as container:
            assert [s.type for s in container.streams] == ["video"]  # the host sent no audio
            first = next(container.decode(video=0))
            assert read_marker(first) >= 0  # the host's picture, decoded
        size = len(seg.content)
        r = await sclient.get(f"/hls/{sid}/seg0.m4s", headers={"Range": "bytes=8-15"})
        assert r.status_code == 206 and r.content == seg.content[8:16]
        assert r.headers["content-range"] == f"bytes 8-15/{size}"
        r = await sclient.get(f"/hls/{sid}/seg0.m4s", headers={"Range": f"bytes={size}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert (await sclient.get(f"/hls/{sid}/seg999999.m4s")).status_code == 404
        assert (await sclient.get(f"/hls/{sid}/../etc")).status_code == 404
        assert (await sclient.get(f"/hls/{sid}/vod.m3u8")).status_code == 404

        redis = redisclient.connect(redis_url)
        try:
            start = await redis.get(keys.session_stream_start(sid))
        finally:
            await redis.aclose()
        assert start is not None

        # The host ends the show (through the other server): the replay appears.
        r = await client.post(f"/api/sessions/{sid}/end", headers=show["host"]["headers"])
        assert r.status_code == 200, r.text

        async def ended() -> bool:
            return (await sclient.get(f"/hls/{sid}/vod.m3u8")).status_code == 200

        await wait_for(ended, timeout=15)
    finally:
        await host.close()
    r = await sclient.get(f"/hls/{sid}/vod.m3u8")
    vod = m3u8.loads(r.text)
    assert vod.is_endlist and vod.playlist_type == "vod" and len(vod.segments) >= 1
    assert "max-age=86400" in r.headers["cache-control"]
    index = json.loads(streaming.hls.store.read(f"sessions/{sid}/index.json") or b"{}")
    assert index["stream_start_ms"] == int(start)
    assert [s["msn"] for s in index["segments"]] == list(range(len(vod.segments)))
    assert index["segments"][0]["start_ms"] == 0
    last = vod.segments[-1].uri
    r = await sclient.get(f"/hls/{sid}/{last}")
    assert r.status_code == 200 and _decode(init.content, r.content) >= 1
    # The live URL now gives the final playlist.
    assert m3u8.loads((await sclient.get(f"/hls/{sid}/live.m3u8")).text).is_endlist


async def test_a_vp8_host_is_encoded_to_h264_once_for_hls(
    sclient: httpx.AsyncClient, sactors: Actors, stream_server: ServerThread
) -> None:
    streaming = stream_server.component(StreamingComponent)
    show = await sactors.show()
    sid = show["id"]
    host = Host(video_mime="video/VP8", audio=False)
    try:
        r = await post_offer(sclient, f"/whip/{sid}", host.pc, token=show["host"]["token"])
        assert r.status_code == 201, r.text
        r = await sclient.get(f"/hls/{sid}/live.m3u8", params={"_HLS_msn": 1}, timeout=30)
        assert r.status_code == 200, r.text
        playlist = _check_live(r.text, streaming.settings.hls_part_target_s)
        assert playlist.segments[0].uri == "seg0.m4s"
        init = (await sclient.get(f"/hls/{sid}/init.mp4")).content
        seg = (await sclient.get(f"/hls/{sid}/seg0.m4s")).content
        with av.open(io.BytesIO(init + seg), "r") as container:
            assert container.streams.video[0].codec_context.name == "h264"
            markers = [read_marker(f) for f in container.decode(video=0)]
        assert len(markers) >= 20
        assert all(b > a for a, b in zip(markers, markers[1:], strict=False))
        packager = streaming.hls.get(sid)
        assert packager is not None and packager.segmenter.codec is not None
    finally:
        await host.close()
    await asyncio.sleep(0)


def test_the_directory_store_writes_whole_files_and_refuses_escaping_paths(tmp_path: Any) -> None:
    store = DirectoryStore(tmp_path)
    store.write("sessions/7/seg0.m4s", b"abc")
    store.write("sessions/7/seg0.m4s", b"abcd")  # replaced whole
    assert store.read("sessions/7/seg0.m4s") == b"abcd" and store.size("sessions/7/seg0.m4s") == 4
    assert store.exists("sessions/7/seg0.m4s") and not store.exists("sessions/7/seg1.m4s")
    assert store.read("sessions/7") is None and store.size("sessions/7") is None
    assert store.list("sessions/7/") == ["sessions/7/seg0.m4s"]
    for bad in ("../x", "sessions/../../x", "", "/"):
        with pytest.raises(ValueError):
            store.read(bad)
    store.delete_prefix("sessions/7/")
    assert store.list("sessions/") == [] and store.read("sessions/7/seg0.m4s") is None


async def test_the_hosts_opus_becomes_aac_muxed_in_the_same_parts(
    sclient: httpx.AsyncClient, sactors: Actors, stream_server: ServerThread
) -> None:
    streaming = stream_server.component(StreamingComponent)
    part_target = streaming.settings.hls_part_target_s
    show = await sactors.show()
    sid = show["id"]
    host = Host(video_mime="video/H264", audio=False)
    host.pc.addTransceiver(ToneTrack(), direction="sendonly")  # a 440 Hz microphone
    try:
        r = await post_offer(sclient, f"/whip/{sid}", host.pc, token=show["host"]["token"])
        assert r.status_code == 201, r.text
        r = await sclient.get(f"/hls/{sid}/live.m3u8", params={"_HLS_msn": 1}, timeout=30)
        assert r.status_code == 200, r.text
        playlist = _check_live(r.text, part_target)
        init = (await sclient.get(f"/hls/{sid}/init.mp4")).content
        seg = (await sclient.get(f"/hls/{sid}/seg0.m4s")).content
        part_uri = playlist.segments[-1].parts[0].uri if playlist.segments[-1].parts else None
        part = (await sclient.get(f"/hls/{sid}/{part_uri}")).content if part_uri else b""
        packager = streaming.hls.get(sid)
        assert packager is not None and packager.segmenter.audio is not None
        codecs = packager.segmenter.codecs
    finally:
        await host.close()
    assert codecs is not None and codecs.startswith("avc1.") and codecs.endswith(",mp4a.40.2")
    # The init segment has two tracks: H.264 video and AAC-LC audio, 48 kHz, as the host sent.
    with av.open(io.BytesIO(init + seg), "r") as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert audio.codec_context.sample_rate == 48_000
        assert audio.codec_context.channels == 2  # aiortc sends stereo Opus
        frames = list(container.decode(video=0))
    with av.open(io.BytesIO(init + seg), "r") as container:
        sounds = list(container.decode(audio=0))
    assert len(frames) >= 20 and read_marker(frames[0]) >= 0
    # The whole segment is covered by audio (1024-sample AAC frames), and it is the tone.
    seconds = sum(f.samples for f in sounds) / 48_000
    video_seconds = len(frames) / 30
    assert seconds >= video_seconds - 0.2, (seconds, video_seconds)
    loud = [_rms(f) for f in sounds[3:]]
    assert loud and min(loud) > 0.05, "a 440 Hz tone at -12 dBFS, not silence"
    # Audio and video start together (both placed on the packager's arrival clock).
    assert frames[0].time is not None and sounds[0].time is not None
    assert abs(sounds[0].time - frames[0].time) <= 0.1
    # A part alone (what an LL-HLS client fetches) carries both tracks too.
    if part:
        with av.open(io.BytesIO(init + part), "r") as container:
            assert len(list(container.decode(audio=0))) >= 1
