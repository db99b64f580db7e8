"""The click generator of scripts/bench_links.py: visitors following share links.

Each load-generator process keeps ``conns`` HTTP/1.1 keep-alive connections and sends its
clicks over them one after another (closed loop: the next click leaves when the last
reply is in), each with its visitor's ``lc_v`` cookie. Raw asyncio streams with the
request bytes built beforehand: the generator shares the cores with the servers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

#: (status, latency ms); status 0: no complete reply.
Click = tuple[int, float]


def click_process(
    url: str, jobs: list[tuple[str, str]], conns: int, start_at: float, out: Any
) -> None:
    """Send ``jobs`` (code, visitor) from ``start_at``; send (results, first, last) to ``out``."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    out.send(asyncio.run(run_clicks(url, jobs, conns, start_at)))
    out.close()


async def run_clicks(
    url: str, jobs: list[tuple[str, str]], conns: int, start_at: float
) -> tuple[list[Click], float, float]:
    hostport = url.removeprefix("http://").rstrip("/")
    host, _, port = hostport.partition(":")
    requests = [
        f"GET /l/{code} HTTP/1.1\r\nHost: {hostport}\r\nCookie: lc_v={visitor}\r\n"
        f"Accept: text/html\r\n\r\n".encode()
        for code, visitor in jobs
    ]
    results: list[Click] = [(0, 0.0)] * len(jobs)
    pending = iter(range(len(jobs)))
    delay = start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    first = time.time()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in pending:
                t0 = time.perf_counter()
                writer.write(requests[i])
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.lower().split(b"\r\n"):
                    if line.startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                results[i] = (int(head[9:12]), (time.perf_counter() - t0) * 1000)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(conns)))
    return results, first, time.time()
