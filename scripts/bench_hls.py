#!/usr/bin/env python
"""Benchmark: LL-HLS for the mass audience (issue 14, DESIGN section 8).

One 1280x720 30 fps H.264 host (looped pre-encoded libx264 frames, a keyframe each
second) with a 440 Hz tone as its microphone (Opus; ``--no-audio``: none) publishes
over WHIP to ``livecommerce serve``; a few WebRTC viewers watch it;
Debian's nginx runs ``deploy/nginx-cdn.conf`` in front of the server and N low-latency
HLS clients (blocking reload, every part fetched; ``scripts/hls_clients.py``, in a
process of their own so they do not starve the host and viewers) play through it.

Two runs on fresh servers: the baseline with the packager off (``HLS_ENABLED=false``,
host and WebRTC viewers only), then the packager on with the HLS crowd. Reported:

* the packager's CPU (its own counter: ``livecommerce_hls_packager_cpu_seconds``), the
  part of it that made the audio (Opus → AAC, ``livecommerce_hls_audio_cpu_seconds``) and
  the server process's CPU in both runs (utime+stime from /proc);
* frame reaching the packager → its part written and fetchable, p50/p90 (the
  ``livecommerce_hls_part_latency_seconds`` histogram, interpolated in its buckets);
* origin requests per part behind nginx (the ``livecommerce_hls_requests`` counter);
* the WebRTC viewers' fps in both runs.

Last line: one JSON object. Usage: ``python -m scripts.bench_hls [--clients 500]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.rtp import RtpPacket

from scripts.bench_procs import free_port, serving
from scripts.bench_relay import cpu_seconds, make_show
from scripts.hls_clients import HlsCrowd, origin_counts
from scripts.relay_peers import FPS, HEIGHT, WIDTH, LoopTrack, ToneTrack
from streaming.aiortc_hooks import on_keyframe_request, on_rtp_packet
from streaming.client import post_offer
from tests.multinode import Nginx

ROOT = Path(__file__).resolve().parent.parent
CDN_CONF = ROOT / "deploy" / "nginx-cdn.conf"


def log(msg: str) -> None:
    print(f"[bench_hls {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def encode_loop_h264(seconds: float, bitrate: int) -> list[bytes]:
    """H.264 (Annex B) frames of a moving 720p picture, a keyframe every second."""
    codec: Any = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = fractions.Fraction(1, FPS)
    codec.options = {
        "preset": "veryfast",
        "tune": "zerolatency",
        "profile": "baseline",
        "x264-params": f"keyint={FPS}:min-keyint={FPS}:scenecut=0",
    }
    base_row = bytes((x * 255 // WIDTH) for x in range(WIDTH))
    frames: list[bytes] = []
    for i in range(int(seconds * FPS)):
        shift = (i * 8) % WIDTH
        row = base_row[shift:] + base_row[:shift]
        luma = bytearray(row * HEIGHT)
        bx, by = (i * 24) % (WIDTH - 320), (i * 12) % (HEIGHT - 180)
        for y in range(by, by + 180):
            luma[y * WIDTH + bx : y * WIDTH + bx + 320] = os.urandom(320)
        frame = av.VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        y_plane, u_plane, v_plane = frame.planes
        stride = y_plane.line_size
        pad = bytes(stride - WIDTH)
        y_plane.update(
            b"".join(bytes(luma[r * WIDTH : (r + 1) * WIDTH]) + pad for r in range(HEIGHT))
        )
        u_plane.update(bytes([128]) * u_plane.buffer_size)
        v_plane.update(bytes([128]) * v_plane.buffer_size)
        frame.pts, frame.time_base = i, codec.time_base
        frames += [bytes(p) for p in codec.encode(frame)]
    frames += [bytes(p) for p in codec.encode(None)]
    return frames


class FrameCounter:
    """A WHEP viewer counting H.264 frames (RTP marker bit) without decoding them."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        self.arrivals: list[float] = []
        self._last_ts: int | None = None
        on_rtp_packet(transceiver.receiver, self._on_rtp)

    async def _on_rtp(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        if packet.marker and packet.timestamp != self._last_ts:
            self._last_ts = packet.timestamp
            self.arrivals.append(time.monotonic())

    async def play(self, client: httpx.AsyncClient, session_id: int) -> None:
        r = await post_offer(client, f"/whep/{session_id}", self.pc)
        r.raise_for_status()

    def fps(self, start: float, end: float) -> float:
        return sum(1 for t in self.arrivals if start <= t < end) / (end - start)


@contextlib.contextmanager
def server(workdir: Path, *, hls: bool) -> Iterator[tuple[str, int]]:
    port = free_port()
    data_dir = workdir / ("hls" if hls else "baseline")
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "LIVECOMMERCE_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'bench.db'}",
        "SECRET_KEY": "bench-hls-secret-key-0123456789ab",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "EMBEDDED_WORKER": "false",
        "HLS_ENABLED": "true" if hls else "false",
    }
    env.pop("REDIS_URL", None)
    cli = [sys.executable, "-m", "livecommerce.cli"]
    subprocess.run([*cli, "migrate"], env=env, cwd=str(data_dir), check=True)
    with serving([*cli, "serve"], env, port, ROOT) as running:
        yield running


_BUCKET = re.compile(r'^livecommerce_hls_part_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)
_CPU = re.compile(r"^livecommerce_hls_packager_cpu_seconds_total (\S+)$", re.M)
_PARTS = re.compile(r"^livecommerce_hls_parts_total (\S+)$", re.M)
_AUDIO_CPU = re.compile(r"^livecommerce_hls_audio_cpu_seconds_total (\S+)$", re.M)


async def metrics(
    client: httpx.AsyncClient, url: str
) -> tuple[list[tuple[float, float]], float, float, float]:
    """The latency histogram's buckets, the packager CPU seconds, parts written and the
    packager's audio CPU seconds."""
    text = (await client.get(f"{url}/metrics")).text
    buckets = [(float(le), float(n)) for le, n in _BUCKET.findall(text)]
    cpu, parts, audio = _CPU.search(text), _PARTS.search(text), _AUDIO_CPU.search(text)
    return (
        buckets,
        float(cpu[1]) if cpu else 0.0,
        float(parts[1]) if parts else 0.0,
        float(audio[1]) if audio else 0.0,
    )


def quantile(
    before: list[tuple[float, float]], after: list[tuple[float, float]], q: float
) -> float:
    """The ``q`` quantile of the observations between two histogram snapshots."""
    counts = [(le, n - dict(before).get(le, 0.0)) for le, n in after]
    total = counts[-1][1]
    if total <= 0:
        return float("nan")
    rank, low, below = q * total, 0.0, 0.0
    for le, n in counts:
        if n >= rank:
            if le == float("inf"):
                return low
            return low + (le - low) * ((rank - below) / max(n - below, 1e-9))
        low, below = le, n
    return low


async def crowd_main(base: str, session_id: int, size: int, seconds: float) -> None:
    """The HLS crowd, in its own process: prints one JSON line of its figures."""
    crowd = HlsCrowd(base, session_id, size)
    started = time.monotonic()
    await crowd.start()
    await asyncio.sleep(seconds)
    await crowd.stop()
    elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "fetched": crowd.fetched,
                "errors": crowd.errors,
                "hits": crowd.cache_hits,
                "seconds": elapsed,
                "parts": sorted(crowd.parts),
            }
        ),
        flush=True,
    )


async def run(
    url: str, pid: int, frames: list[bytes], args: argparse.Namespace, *, hls: bool, workdir: Path
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        session_id, token = await make_show(client)
        host_pc = RTCPeerConnection()
        track = LoopTrack(frames)
        host = host_pc.addTransceiver(track, direction="sendonly")
        host.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]
        )
        on_keyframe_request(host.sender, track.request_keyframe)
        if args.audio:
            host_pc.addTransceiver(ToneTrack(), direction="sendonly")
        viewers = [FrameCounter() for _ in range(args.viewers)]
        nginx: Nginx | None = None
        crowd: subprocess.Popen[bytes] | None = None
        try:
            r = await post_offer(client, f"/whip/{session_id}", host_pc, token=token)
            r.raise_for_status()
            for viewer in viewers:
                await viewer.play(client, session_id)
            if hls:
                run_dir = workdir / "nginx"
                run_dir.mkdir(exist_ok=True)
                template = re.sub(
                    r"proxy_cache_path \S+",
                    f"proxy_cache_path {run_dir / 'cache'}",
                    CDN_CONF.read_text(),
                )
                (run_dir / "cdn.template").write_text(template)
                address = url.removeprefix("http://")
                nginx = Nginx(run_dir, [address], template=run_dir / "cdn.template").wait_ready()
                log(f"nginx at {nginx.url}; starting {args.clients} HLS clients")
                crowd = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "scripts.bench_hls",
                        "--crowd",
                        nginx.url,
                        str(session_id),
                        str(args.clients),
                        str(args.warmup + args.window + 4),
                    ],
                    cwd=str(ROOT),
                    stdout=subprocess.PIPE,
                )
            await asyncio.sleep(args.warmup)
            buckets0, pcpu0, parts0, acpu0 = await metrics(client, url)
            counts0 = await origin_counts(client, url)
            t0, c0 = time.monotonic(), cpu_seconds(pid)
            await asyncio.sleep(args.window)
            t1, c1 = time.monotonic(), cpu_seconds(pid)
            buckets1, pcpu1, parts1, acpu1 = await metrics(client, url)
            counts1 = await origin_counts(client, url)
            fps = sorted(v.fps(t0, t1) for v in viewers)
            result: dict[str, Any] = {
                "server_cpu": round((c1 - c0) / (t1 - t0), 3),
                "webrtc_viewers": len(viewers),
                "webrtc_fps_min": round(fps[0], 1),
                "webrtc_fps_median": round(statistics.median(fps), 1),
            }
            if hls:
                assert crowd is not None
                out, _ = await asyncio.to_thread(crowd.communicate)
                figures = json.loads(out.decode().strip().splitlines()[-1])
                window_parts = int(parts1 - parts0)
                parts_made = window_parts or 1
                result.update(
                    {
                        "hls_clients": args.clients,
                        "packager_cpu_cores": round((pcpu1 - pcpu0) / (t1 - t0), 4),
                        "packager_audio_cpu_cores": round((acpu1 - acpu0) / (t1 - t0), 4),
                        "part_latency_p50_s": round(quantile(buckets0, buckets1, 0.5), 3),
                        "part_latency_p90_s": round(quantile(buckets0, buckets1, 0.9), 3),
                        "parts_in_window": window_parts,
                        "origin_part_requests_per_part": round(
                            (counts1.get("part", 0) - counts0.get("part", 0)) / parts_made, 3
                        ),
                        "origin_playlist_requests_per_part": round(
                            (counts1.get("playlist", 0) - counts0.get("playlist", 0)) / parts_made,
                            3,
                        ),
                        "hls_parts_fetched": figures["fetched"],
                        "hls_cache_hits": figures["hits"],
                        "hls_errors": figures["errors"],
                        # Parts each client fetched per part made: 1.0 when every client
                        # follows the live edge, lower when clients skip parts (the load
                        # generator, or nginx's cache-lock wait, makes them late).
                        "hls_keep_up": round(
                            figures["fetched"]
                            / args.clients
                            / (window_parts / (t1 - t0) * figures["seconds"]),
                            3,
                        )
                        if window_parts
                        else None,
                    }
                )
            return result
        finally:
            if crowd is not None and crowd.poll() is None:
                crowd.kill()
                crowd.wait()
            if nginx is not None:
                nginx.stop()
            await asyncio.gather(*(v.pc.close() for v in viewers), return_exceptions=True)
            await host_pc.close()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    log("encoding the 720p H.264 loop")
    frames = encode_loop_h264(args.loop_seconds, args.bitrate)
    with tempfile.TemporaryDirectory(prefix="bench-hls-") as tmp:
        workdir = Path(tmp)
        with server(workdir, hls=False) as (url, pid):
            log("baseline: packager off, host + WebRTC viewers")
            baseline = await run(url, pid, frames, args, hls=False, workdir=workdir)
            log(f"baseline: {baseline}")
        with server(workdir, hls=True) as (url, pid):
            log("packager on, host + WebRTC viewers + HLS crowd through nginx")
            ours = await run(url, pid, frames, args, hls=True, workdir=workdir)
            log(f"with HLS: {ours}")
    return {"baseline": baseline, "hls": ours}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--crowd":
        base, sid, size, seconds = sys.argv[2:6]
        asyncio.run(crowd_main(base, int(sid), int(size), float(seconds)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument(
        "--no-audio", dest="audio", action="store_false", help="the host sends video only"
    )
    parser.add_argument("--viewers", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--bitrate", type=int, default=2_500_000)
    parser.add_argument("--loop-seconds", type=float, default=4.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
