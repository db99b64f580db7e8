"""``bench_relay --topology origin+<N>edges``: the relay cascade across processes.

One private valkey-server and one SQLite file shared by 1 + N ``livecommerce serve``
processes (the origin and N edges, each its own ``NODE_ID``/``NODE_URL``), the
synthetic host publishing to the origin. Phases, each with a steady CPU window
(utime+stime of each process from /proc):

1. host only: the origin's ingest cost;
2. single process (the baseline, same run): V viewers on the origin itself →
   cores per viewer in one process; they leave;
3. one viewer on each edge (each edge pulls the show once) → the origin's cost
   per edge, each edge's ingest + one viewer, and the first frame through a cold
   edge (the pull starts with that viewer);
4. V viewers spread over the edges → cores per viewer on an edge, the fps of
   every viewer;
5. late joiners one by one through a warm edge → first-frame p50.

Then the capacity model those figures imply for N nodes of K cores.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCRtpSender

from livecommerce.valkey import EmbeddedValkey
from scripts.bench_procs import free_port, wait_ready
from scripts.relay_peers import CountingViewer, LoopTrack
from streaming.aiortc_hooks import on_keyframe_request
from streaming.client import post_offer

#: A node's media process is kept under this share of its core in the capacity model.
UTILIZATION = 0.8


def parse_topology(text: str) -> int:
    """``origin+2edges`` → 2."""
    head, _, tail = text.partition("+")
    if head != "origin" or not tail.endswith("edges") or not tail[:-5].isdigit():
        raise argparse.ArgumentTypeError("topology must look like origin+2edges")
    edges = int(tail[:-5])
    if edges < 1:
        raise argparse.ArgumentTypeError("at least one edge")
    return edges


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Nodes:
    """The origin (``procs[0]``) and the edges, sharing one Redis and one database."""

    def __init__(self, workdir: Path, edges: int, log: Any) -> None:
        self.workdir = workdir
        self.log = log
        self.valkey = EmbeddedValkey(workdir / "valkey", appendonly=False)
        self.count = edges + 1
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []

    def start(self) -> Nodes:
        redis_url = self.valkey.start()
        base = {
            **os.environ,
            "LIVECOMMERCE_DATA_DIR": str(self.workdir),
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.workdir / 'bench.db'}",
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-relay-secret-key-0123456789",
            "LOG_LEVEL": "INFO",
            "EMBEDDED_WORKER": "false",
        }
        exe = Path(sys.executable).with_name("livecommerce")
        cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "livecommerce.cli"]
        subprocess.run([*cli, "migrate"], env=base, cwd=str(self.workdir), check=True)
        for i in range(self.count):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = {**base, "PORT": str(port), "NODE_ID": f"node{i}", "NODE_URL": url}
            out = open(self.workdir / f"node{i}.log", "wb")  # noqa: SIM115 - closed at exit
            self.procs.append(
                subprocess.Popen(
                    [*cli, "serve"], env=env, cwd=str(self.workdir), stdout=out, stderr=out
                )
            )
            self.urls.append(url)
        for proc, url in zip(self.procs, self.urls, strict=True):
            wait_ready(url, proc)
        return self

    def log_tail(self, i: int, lines: int = 20) -> str:
        text = (self.workdir / f"node{i}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def cpu(self) -> list[float]:
        return [_cpu(p.pid) for p in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.valkey.stop()


async def _window(nodes: Nodes, seconds: float) -> tuple[list[float], float, float]:
    """Cores each node used over a window of ``seconds``; its (start, end)."""
    t0, c0 = time.monotonic(), nodes.cpu()
    await asyncio.sleep(seconds)
    t1, c1 = time.monotonic(), nodes.cpu()
    return [(b - a) / (t1 - t0) for a, b in zip(c0, c1, strict=True)], t0, t1


async def _connect(viewers: list[tuple[CountingViewer, httpx.AsyncClient]], sid: int) -> None:
    for i in range(0, len(viewers), 10):
        await asyncio.gather(*(v.play(c, sid) for v, c in viewers[i : i + 10]))
    deadline = time.monotonic() + 30
    while any(v.first_keyframe_at is None for v, _ in viewers) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def _leave(viewers: list[tuple[CountingViewer, httpx.AsyncClient]]) -> None:
    await asyncio.gather(
        *(c.delete(v.location) for v, c in viewers if v.location), return_exceptions=True
    )
    await asyncio.gather(*(v.pc.close() for v, _ in viewers), return_exceptions=True)


async def run_topology(
    args: argparse.Namespace, frames: list[bytes], workdir: Path, log: Any
) -> dict[str, Any]:
    edges = args.topology
    nodes = Nodes(workdir, edges, log).start()
    log(f"origin {nodes.urls[0]} + {edges} edges {nodes.urls[1:]}, one valkey")
    limits = httpx.Limits(max_connections=200)
    clients = [httpx.AsyncClient(base_url=u, timeout=60, limits=limits) for u in nodes.urls]
    host_pc = RTCPeerConnection()
    everyone: list[tuple[CountingViewer, httpx.AsyncClient]] = []
    try:
        from scripts.bench_relay import make_show

        sid, token = await make_show(clients[0])
        track = LoopTrack(frames)
        host = host_pc.addTransceiver(track, direction="sendonly")
        host.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
        )
        on_keyframe_request(host.sender, track.request_keyframe)
        r = await post_offer(clients[0], f"/whip/{sid}", host_pc, token=token)
        if r.status_code != 201:
            raise RuntimeError(f"WHIP failed: {r.status_code} {r.text}")
        await asyncio.sleep(2)  # let the host's stream settle
        idle, _, _ = await _window(nodes, args.idle_window)
        host_only = idle[0]
        log(f"host only: origin {host_only:.3f} cores, edges {[round(c, 3) for c in idle[1:]]}")

        # 2. The baseline: V viewers in the origin's own process.
        single = [(CountingViewer(), clients[0]) for _ in range(args.viewers)]
        everyone += single
        await _connect(single, sid)
        await asyncio.sleep(args.warmup)
        cores, t0, t1 = await _window(nodes, args.window)
        single_fps = sorted(v.fps(t0, t1) for v, _ in single)
        single_per_viewer = max(cores[0] - host_only, 0.0) / args.viewers
        log(
            f"single process: {args.viewers} viewers, origin {cores[0]:.3f} cores, "
            f"{single_per_viewer:.5f} per viewer, fps min {single_fps[0]:.1f}"
        )
        await _leave(single)
        await asyncio.sleep(2)

        # 3. One viewer per edge: each edge pulls the show once.
        firsts = [(CountingViewer(), clients[i]) for i in range(1, edges + 1)]
        everyone += firsts
        await _connect(firsts, sid)
        cold = [v.first_frame_ms or math.inf for v, _ in firsts]
        await asyncio.sleep(args.warmup)
        pulled, _, _ = await _window(nodes, args.window)
        per_edge = max(pulled[0] - host_only, 0.0) / edges
        log(
            f"{edges} edges pulling: origin {pulled[0]:.3f} cores ({per_edge:.5f} per edge), "
            f"edges {[round(c, 3) for c in pulled[1:]]} (ingest + 1 viewer), "
            f"cold-edge first frame {[_finite(c) for c in cold]} ms"
        )
        for i, first_ms in enumerate(cold, start=1):
            if math.isinf(first_ms):  # say why before the logs go with the workdir
                log(f"edge {i} got no frame; its log:\n" + nodes.log_tail(i))

        # 4. V viewers spread over the edges.
        per_node = max(args.viewers // edges, 1)
        crowd = [
            (CountingViewer(), clients[i]) for i in range(1, edges + 1) for _ in range(per_node - 1)
        ]
        everyone += crowd
        await _connect(crowd, sid)
        await asyncio.sleep(args.warmup)
        loaded, t0, t1 = await _window(nodes, args.window)
        watching = firsts + crowd
        fps = sorted(v.fps(t0, t1) for v, _ in watching)
        edge_per_viewer = statistics.mean(
            max(loaded[i] - pulled[i], 0.0) / max(per_node - 1, 1) for i in range(1, edges + 1)
        )
        edge_ingest = statistics.mean(
            max(pulled[i] - edge_per_viewer, 0.0) for i in range(1, edges + 1)
        )
        log(
            f"{len(watching)} viewers on edges: edges {[round(c, 3) for c in loaded[1:]]} cores, "
            f"{edge_per_viewer:.5f} per viewer, origin {loaded[0]:.3f}; "
            f"fps min {fps[0]:.1f} median {statistics.median(fps):.1f}"
        )
        health = (await clients[1].get(f"/api/sessions/{sid}/media")).json()
        log(f"health from an edge: viewers {health['viewers']}, nodes {health['nodes']}")

        # 5. Late joiners through a warm edge.
        late: list[float] = []
        for i in range(args.joiners):
            client = clients[1 + i % edges]
            viewer = CountingViewer()
            await viewer.play(client, sid)
            deadline = time.monotonic() + 6
            while viewer.first_keyframe_at is None and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            late.append(viewer.first_frame_ms or math.inf)
            log(f"late viewer {i + 1} via edge: first frame after {late[-1]:.0f} ms")
            await client.delete(viewer.location)
            await viewer.pc.close()
            await asyncio.sleep(args.join_gap)
    finally:
        await _leave(everyone)
        await host_pc.close()
        for client in clients:
            await client.aclose()
        nodes.stop()
    result: dict[str, Any] = {
        "topology": f"origin+{edges}edges",
        "viewers_on_edges": len(watching),
        "single_process_cpu_per_viewer": round(single_per_viewer, 5),
        "single_process_fps_min": round(single_fps[0], 2),
        "edge_cpu_per_viewer": round(edge_per_viewer, 5),
        "edge_cpu_ingest": round(edge_ingest, 4),
        "origin_cpu_host_only": round(host_only, 4),
        "origin_cpu_per_edge": round(per_edge, 5),
        "origin_cpu_with_edges_and_viewers": round(loaded[0], 4),
        "edge_cpu_total": [round(c, 4) for c in loaded[1:]],
        "fps_every_viewer": [round(f, 1) for f in fps],
        "fps_min": round(fps[0], 2),
        "fps_median": round(statistics.median(fps), 2),
        "viewers_below_28fps": sum(1 for f in fps if f < 28),
        "first_frame_ms_p50_via_edge": _finite(statistics.median(late)) if late else None,
        "first_frame_ms_max_via_edge": _finite(max(late)) if late else None,
        "first_frame_ms_cold_edge": [_finite(c) for c in cold],
        "health_nodes": health["nodes"],
        "health_viewers": health["viewers"],
    }
    result["capacity_model"] = capacity_model(
        per_viewer=max(edge_per_viewer, single_per_viewer, 1e-4),
        per_edge=max(per_edge, 1e-4),
        host=host_only,
        ingest=edge_ingest,
        max_edges=8,
        kbps=sum(len(f) for f in frames) * 8 / args.loop_seconds / 1000,
    )
    log("capacity model (one show, CPU only): nodes x cores -> edges, viewers, Gbit/s")
    for row in result["capacity_model"]["table"]:
        log(
            f"  {row['nodes']:>3} x {row['cores']:>2} cores: "
            f"{row['first_level_edges']}+{row['second_level_edges']} edges, "
            f"{row['viewers']:>7} viewers, {row['gbit_s_at_host_rate']} Gbit/s"
        )
    return result


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 1)


def capacity_model(
    *,
    per_viewer: float,
    per_edge: float,
    host: float,
    ingest: float,
    max_edges: int,
    kbps: float,
) -> dict[str, Any]:
    """Viewers of one show on N nodes of K cores, from the measured costs.

    One ``serve`` process per core (a process relays on one core), each kept under
    ``UTILIZATION`` of it. The origin process spends ``host`` on the host and
    ``per_edge`` per edge pulling from it, and serves viewers with the rest. Every
    other process is an edge: ``ingest`` for its pull, ``per_viewer`` per viewer.
    Edges chain as the code does: ≤ ``max_edges`` pull from the origin, the rest
    spread over those first-level edges, each of which spends ``per_edge`` on
    every edge it feeds."""

    def viewers_of(budget: float) -> int:
        return max(math.floor(budget / per_viewer), 0)

    feedable = math.floor((UTILIZATION - ingest) / per_edge)
    table = []
    for n in (1, 3, 10, 50):
        for k in (2, 8, 32):
            edges = n * k - 1
            first = min(edges, max_edges, math.floor((UTILIZATION - host) / per_edge))
            # A first-level edge feeds at most what its core allows (past that, raise
            # STREAM_ORIGIN_MAX_EDGES: the origin can feed as many).
            second = min(edges - first, first * feedable)
            fed = math.ceil(second / first) if first else 0
            viewers = viewers_of(UTILIZATION - host - first * per_edge)
            viewers += first * viewers_of(UTILIZATION - ingest - fed * per_edge)
            viewers += second * viewers_of(UTILIZATION - ingest)
            table.append(
                {
                    "nodes": n,
                    "cores": k,
                    "first_level_edges": first,
                    "second_level_edges": second,
                    "viewers": viewers,
                    "gbit_s_at_host_rate": round(viewers * kbps / 1e6, 1),
                }
            )
    return {
        "viewers_per_edge_process": viewers_of(UTILIZATION - ingest),
        "edges_one_process_can_feed": feedable,
        "note": (
            f"one serve process per core at {UTILIZATION:.0%}, STREAM_ORIGIN_MAX_EDGES="
            f"{max_edges}; CPU only: each viewer also takes the host's bitrate from its "
            "node's network (4,000 viewers × 2.5 Mbit/s = 10 Gbit/s)"
        ),
        "table": table,
    }
