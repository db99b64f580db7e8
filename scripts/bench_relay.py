#!/usr/bin/env python
"""Benchmark: one 1280x720 30 fps host relayed to N WHEP viewers (DESIGN section 8).

Starts ``livecommerce serve`` in its own process (private valkey-server and
SQLite under a temporary directory), publishes one synthetic host over WHIP
and plays it to N viewers over WHEP, all from this process. Then it does the
same against a second server, ``scripts/relay_baseline.py`` — the same app with
aiortc's stock ``MediaRelay`` (decode once, re-encode per viewer) — as the baseline.

The host and the viewers (scripts/relay_peers.py) are built to keep the load
generator cheap on a 2-core machine: looped pre-encoded packets, frames counted
but not decoded.

Measured: server process CPU (utime+stime from /proc, all its threads) over a
steady window, with the host alone and with all viewers; frames per second
each viewer received; time from a viewer's WHEP POST to its first complete
keyframe, for viewers joining one at a time after the window.
Last line: one JSON object.

``--topology origin+2edges`` measures the relay cascade instead: the origin and
the edges as separate ``serve`` processes, the single-process figures as the
baseline of the same run (scripts/relay_topology.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvloop
from aiortc import RTCPeerConnection, RTCRtpSender

from scripts.bench_procs import free_port, serving
from scripts.relay_peers import FPS, HEIGHT, WIDTH, CountingViewer, LoopTrack, encode_loop
from scripts.relay_topology import parse_topology, run_topology
from streaming.aiortc_hooks import on_keyframe_request
from streaming.client import post_offer

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[bench_relay {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the server under test -------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


@contextlib.contextmanager
def server(workdir: Path, mode: str) -> Iterator[tuple[str, int]]:
    """``livecommerce serve`` (``mode`` "encoded") or the baseline server
    (``mode`` "mediarelay") in its own process; yields (base url, pid)."""
    port = free_port()
    data_dir = workdir / mode
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
    env = {
        **os.environ,
        "LIVECOMMERCE_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-relay-secret-key-0123456789",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "EMBEDDED_WORKER": "false",
    }
    env.pop("REDIS_URL", None)
    exe = Path(sys.executable).with_name("livecommerce")
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "livecommerce.cli"]
    subprocess.run([*cli, "migrate"], env=env, cwd=str(data_dir), check=True)
    baseline = [sys.executable, "-m", "scripts.relay_baseline"]
    cmd = [*cli, "serve"] if mode == "encoded" else baseline
    with serving(cmd, env, port, ROOT) as running:
        yield running


async def make_show(client: httpx.AsyncClient) -> tuple[int, str]:
    email = f"host-{time.monotonic_ns()}@bench.livecommerce.dev"
    r = await client.post(
        "/api/auth/signup",
        json={
            "email": email,
            "password": "bench password 1",
            "display_name": "host",
            "role": "host",
        },
    )
    r.raise_for_status()
    token = r.json()["token"]
    r = await client.post(
        "/api/sessions",
        json={"title": "bench show"},
        headers={"Authorization": f"Bearer {token}"},
    )
    r.raise_for_status()
    return r.json()["id"], token


# --- one run ---------------------------------------------------------------------


async def run(
    url: str, pid: int, frames: list[bytes], *, viewers: int, joiners: int, args: argparse.Namespace
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        session_id, token = await make_show(client)
        host_pc = RTCPeerConnection()
        track = LoopTrack(frames)
        host = host_pc.addTransceiver(track, direction="sendonly")
        host.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
        )
        on_keyframe_request(host.sender, track.request_keyframe)
        crowd: list[CountingViewer] = []
        late: list[CountingViewer] = []
        try:
            r = await post_offer(client, f"/whip/{session_id}", host_pc, token=token)
            if r.status_code != 201:
                raise RuntimeError(f"WHIP failed: {r.status_code} {r.text}")
            await asyncio.sleep(2)  # let the host's stream settle
            t0, c0 = time.monotonic(), cpu_seconds(pid)
            await asyncio.sleep(args.idle_window)
            host_only = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
            log(f"host only: server uses {host_only:.3f} cores")

            log(f"connecting {viewers} viewers")
            crowd = [CountingViewer() for _ in range(viewers)]
            for i in range(0, viewers, 10):
                await asyncio.gather(*(v.play(client, session_id) for v in crowd[i : i + 10]))
            deadline = time.monotonic() + 30
            while any(v.first_keyframe_at is None for v in crowd):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            waiting = sum(1 for v in crowd if v.first_keyframe_at is None)
            log(f"viewers on media: {viewers - waiting}/{viewers}; warming up {args.warmup}s")
            await asyncio.sleep(args.warmup)

            t0, c0 = time.monotonic(), cpu_seconds(pid)
            own0 = time.process_time()
            await asyncio.sleep(args.window)
            t1, c1 = time.monotonic(), cpu_seconds(pid)
            own = (time.process_time() - own0) / (t1 - t0)
            total = (c1 - c0) / (t1 - t0)
            fps = sorted(v.fps(t0, t1) for v in crowd)
            log(
                f"window {t1 - t0:.1f}s: server {total:.3f} cores, bench process {own:.2f} cores, "
                f"fps min {fps[0]:.1f} median {statistics.median(fps):.1f} max {fps[-1]:.1f}"
            )
            burst = [v.first_frame_ms for v in crowd if v.first_frame_ms is not None]
            health = (await client.get(f"/api/sessions/{session_id}/media")).json()
            sent = sum(
                getattr(st, "packetsSent", 0)
                for st in (await host_pc.getStats()).values()
                if st.type == "outbound-rtp"
            )
            log(
                f"server sees: inbound {health['fps']} fps {health['bitrate_bps'] // 1000} kbit/s, "
                f"host sent {sent} packets, server got {health['packets_received']} "
                f"lost {health['packets_lost']}, keyframes {health['keyframes']}, "
                f"viewers on media {health['viewers_on_media']}/{health['viewers']}"
            )

            for i in range(joiners):
                viewer = CountingViewer()
                late.append(viewer)
                await viewer.play(client, session_id)
                deadline = time.monotonic() + 6  # counted as missing after that
                while viewer.first_keyframe_at is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                log(
                    f"late viewer {i + 1}: connected after {viewer.connect_ms or 0:.0f} ms, "
                    f"first frame after {viewer.first_frame_ms or 0:.0f} ms"
                )
                await client.delete(viewer.location)
                await viewer.pc.close()
                await asyncio.sleep(args.join_gap)
            # A joiner with no frame in time counts as infinitely slow, not as absent.
            first = [v.first_frame_ms or math.inf for v in late]
        finally:
            await asyncio.gather(*(v.pc.close() for v in crowd + late), return_exceptions=True)
            await host_pc.close()
    per_viewer = max(total - host_only, 0.0) / viewers
    return {
        "viewers": viewers,
        "fps_delivered": round(statistics.median(fps), 2),
        "fps_min": round(fps[0], 2),
        "viewers_below_28fps": sum(1 for f in fps if f < 28),
        "server_cpu_total": round(total, 4),
        "server_cpu_host_only": round(host_only, 4),
        "server_cpu_per_viewer": round(per_viewer, 5),
        "server_cpu_per_viewer_incl_ingest": round(total / viewers, 5),
        "first_frame_ms_p50": _finite(statistics.median(first)) if first else None,
        "first_frame_ms_max": _finite(max(first)) if first else None,
        "late_joiners_without_frame": sum(1 for f in first if f == math.inf),
        "first_frame_ms_p50_burst_join": round(statistics.median(burst), 1) if burst else None,
        "late_joiners": len(late),
        "host_keyframe_requests": track.keyframe_requests,
        "viewer_nacked_packets": sum(v.nacked for v in crowd + late),
        "viewer_plis": sum(v.plis for v in crowd + late),
        "bench_process_cpu": round(own, 3),
    }


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 1)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    log(f"encoding {args.loop_seconds}s of synthetic {WIDTH}x{HEIGHT} VP8 once")
    frames = encode_loop(args.loop_seconds, args.bitrate)
    kbits = sum(len(f) for f in frames) * 8 / args.loop_seconds / 1000
    log(f"{len(frames)} frames, {kbits:.0f} kbit/s, keyframe {len(frames[0]) // 1024} KiB")
    workdir = Path(tempfile.mkdtemp(prefix="bench_relay_"))
    if args.topology:
        try:
            cascade = await run_topology(args, frames, workdir, log)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return {
            "width": WIDTH,
            "height": HEIGHT,
            "fps_target": FPS,
            "host_kbps": round(kbits),
            **cascade,
        }
    try:
        with server(workdir, "encoded") as (url, pid):
            log(f"encoded relay server pid {pid} at {url}")
            ours = await run(
                url, pid, frames, viewers=args.viewers, joiners=args.joiners, args=args
            )
        log(f"encoded relay: {json.dumps(ours)}")
        baseline: dict[str, Any] | None = None
        if args.baseline_viewers > 0:
            with server(workdir, "mediarelay") as (url, pid):
                log(f"baseline (aiortc MediaRelay) server pid {pid} at {url}")
                baseline = await run(
                    url,
                    pid,
                    frames,
                    viewers=args.baseline_viewers,
                    joiners=min(args.joiners, 3),
                    args=args,
                )
            log(f"baseline: {json.dumps(baseline)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result: dict[str, Any] = {
        "viewers": ours["viewers"],
        "width": WIDTH,
        "height": HEIGHT,
        "fps_target": FPS,
        "host_kbps": round(kbits),
        "fps_delivered": ours["fps_delivered"],
        "fps_min": ours["fps_min"],
        "server_cpu_per_viewer": ours["server_cpu_per_viewer"],
        "first_frame_ms_p50": ours["first_frame_ms_p50"],
        "encoded": ours,
        "baseline": baseline,
        "cpu_ratio": None,
        "cpu_ratio_per_frame": None,
    }
    if baseline and ours["server_cpu_per_viewer"] > 0:
        result["cpu_ratio"] = round(
            baseline["server_cpu_per_viewer"] / ours["server_cpu_per_viewer"], 1
        )
        # A saturated baseline delivers fewer frames, which flatters its CPU per
        # viewer; per delivered frame is the fairer comparison (reported too).
        if baseline["fps_delivered"] > 0 and ours["fps_delivered"] > 0:
            result["cpu_ratio_per_frame"] = round(
                (baseline["server_cpu_per_viewer"] / baseline["fps_delivered"])
                / (ours["server_cpu_per_viewer"] / ours["fps_delivered"]),
                1,
            )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument(
        "--baseline-viewers",
        type=int,
        default=2,
        help="viewers for the MediaRelay baseline (it re-encodes per viewer; 0 skips it)",
    )
    parser.add_argument("--window", type=float, default=10.0, help="steady window, seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--idle-window", type=float, default=3.0, help="host-only window")
    parser.add_argument("--joiners", type=int, default=5, help="late viewers timed one by one")
    parser.add_argument("--join-gap", type=float, default=1.2)
    parser.add_argument("--bitrate", type=int, default=1_500_000, help="host video bits/s")
    parser.add_argument("--loop-seconds", type=float, default=3.0)
    parser.add_argument(
        "--topology",
        type=parse_topology,
        default=None,
        help="origin+<N>edges: the origin and N edges as separate processes (the relay "
        "cascade); --viewers are spread over the edges",
    )
    args = parser.parse_args()
    # uvloop (as uvicorn uses for the server) drains each UDP socket per wake-up;
    # asyncio's selector loop reads one datagram per socket per loop iteration,
    # which overflows socket buffers with 20+ peers in one process.
    result = uvloop.run(main_async(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
