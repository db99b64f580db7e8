"""The load generator of scripts/bench_checkout.py: buyers tapping "Buy" over real HTTP.

Each buyer is one request on its own TCP connection (phones do not share sockets), sent at
its arrival time. A raw asyncio protocol with requests built beforehand rather than an HTTP
client library: the load generator shares the 2 cores with the servers it measures, and
aiohttp spent more CPU per request (~1.2 ms, py-spy) than our server did.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from livecommerce import encoding

#: (status, latency ms, sent at, replied at); status 0: no complete reply.
Result = tuple[int, float, float, float]


def client_process(
    urls: list[str],
    jobs: list[tuple[int, str, dict[str, Any]]],
    start_at: float,
    arrival_s: float,
    total: int,
    out: Any,
) -> None:
    """Fire ``jobs`` (index, token, body) at their arrival times; send results to ``out``."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    results = asyncio.run(fire(urls, jobs, start_at, arrival_s, total))
    out.send(results)
    out.close()


class _Exchange(asyncio.Protocol):
    """One buyer's request on its own TCP connection: write the prebuilt bytes, read
    the reply's status line, headers and ``Content-Length`` body, then close.

    A raw protocol rather than an HTTP client library: the load generator shares the
    2 cores with the servers it measures, and aiohttp spent more CPU per request
    (~1.2 ms, py-spy) than our server did, which showed up as the servers' latency."""

    def __init__(self, request: bytes, done: asyncio.Future[int]) -> None:
        self.request = request
        self.done = done
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buffer[:head_end]).lower()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if len(self.buffer) >= head_end + 4 + length:
            self._finish(int(self.buffer[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(0)  # closed before a whole reply: counted as failed

    def _finish(self, status: int) -> None:
        if not self.done.done():
            self.done.set_result(status)
        if self.transport is not None:
            self.transport.close()


def _request_bytes(url: str, token: str, body: dict[str, Any]) -> tuple[str, int, bytes]:
    hostport, _, path = url.removeprefix("http://").partition("/")
    host, _, port = hostport.partition(":")
    payload = encoding.dumps(body)
    head = (
        f"POST /{path} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Bearer {token}\r\n"
        f"Idempotency-Key: {uuid.uuid4().hex}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    return host, int(port), head.encode() + payload


async def fire(
    urls: list[str],
    jobs: list[tuple[int, str, dict[str, Any]]],
    start_at: float,
    arrival_s: float,
    total: int,
) -> list[Result]:
    """Each job taps at ``start_at + arrival_s * index / total`` (wall clock); returns
    (status, latency ms, sent at, replied at) per job. Requests are built beforehand so
    that the taps cost the load generator as little as possible."""
    loop = asyncio.get_running_loop()
    prepared = [
        (index, *_request_bytes(urls[index % len(urls)], token, body))
        for index, token, body in jobs
    ]
    results: list[Result] = []

    async def one(index: int, host: str, port: int, request: bytes) -> None:
        delay = start_at + arrival_s * index / total - time.time()
        if delay > 0:
            await asyncio.sleep(delay)  # the buyer's arrival time
        sent = time.time()
        t0 = time.perf_counter()
        done: asyncio.Future[int] = loop.create_future()
        try:
            await loop.create_connection(lambda: _Exchange(request, done), host, port)
            status = await asyncio.wait_for(done, 120)
        except (TimeoutError, OSError):
            status = 0  # counted as a failed reply
        results.append((status, (time.perf_counter() - t0) * 1000, sent, time.time()))

    await asyncio.gather(*(one(*job) for job in prepared))
    return results


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timeline(results: list[Result], step_s: float = 0.1) -> list[str]:
    """Latency by arrival time, one line per ``step_s``: where in the sale a queue built up."""
    if not results:
        return []
    first = min(r[2] for r in results)
    buckets: dict[int, list[Result]] = {}
    for r in results:
        buckets.setdefault(int((r[2] - first) / step_s), []).append(r)
    lines = []
    for b in sorted(buckets):
        rows = buckets[b]
        lat = [r[1] for r in rows]
        ok = sum(1 for r in rows if r[0] == 201)
        lines.append(
            f"  t+{b * step_s:4.1f}s  n={len(rows):4d} confirmed={ok:4d}  "
            f"p50={percentile(lat, 0.5):7.1f} p99={percentile(lat, 0.99):7.1f} "
            f"max={max(lat):7.1f} ms"
        )
    return lines
