"""Low-latency HLS clients that make a player's requests without decoding.

Each client follows the live edge as hls.js does with blocking playlist reload:
ask for the playlist holding the part named by the last ``EXT-X-PRELOAD-HINT``
(``_HLS_msn``/``_HLS_part``, the origin or the CDN holds the request until it
exists), then fetch every part it lists after the last one fetched (the first
time: the last part only), in order. Hundreds run on one event loop
(``tests/test_hls_cdn.py``, ``scripts/bench_hls.py``). To keep the load generator
far cheaper than what it measures, each client speaks plain HTTP/1.1 on one
kept-alive asyncio connection (httpx costs milliseconds of CPU per request with
hundreds of them in flight) and reads the playlist with a string search.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

__all__ = ["HlsCrowd", "origin_counts"]

_PART = re.compile(r'#EXT-X-PART:[^\n]*URI="part(\d+)\.(\d+)\.m4s"')
_HINT = re.compile(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s"')
_COUNTER = re.compile(r'^livecommerce_hls_requests_total\{kind="(\w+)"\} ([0-9.e+]+)$', re.M)


class _Connection:
    """One kept-alive HTTP/1.1 connection making GET requests one at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        try:
            head = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            lines = head.split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            if "content-length" in headers:
                body = await self._reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding") == "chunked":
                body = await self._chunks()
            else:
                body = await self._reader.read()
            if headers.get("connection", "").lower() == "close" or "content-length" not in headers:
                self.close()
            return status, headers, body
        except BaseException:
            self.close()
            raise

    async def _chunks(self) -> bytes:
        assert self._reader is not None
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await self._reader.readexactly(size + 2))
            if size == 0:
                return b"".join(p[:-2] for p in parts)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def origin_counts(client: httpx.AsyncClient, origin: str) -> dict[str, float]:
    """The origin's HLS requests so far, by kind (its Prometheus counter)."""
    text = (await client.get(f"{origin}/metrics")).text
    return {kind: float(value) for kind, value in _COUNTER.findall(text)}


@dataclass
class HlsCrowd:
    """``size`` clients of ``{base}/hls/{session}/``."""

    base: str
    session_id: int
    size: int
    #: Distinct part URIs fetched, and when each was first fetched (monotonic).
    parts: dict[str, float] = field(default_factory=dict)
    fetched: int = 0
    errors: int = 0
    cache_hits: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        for _ in range(self.size):
            self._tasks.append(asyncio.create_task(self._client()))
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _client(self) -> None:
        url = urlsplit(self.base)
        connection = _Connection(url.hostname or "127.0.0.1", url.port or 80)
        path = f"{url.path.rstrip('/')}/hls/{self.session_id}/"
        text = ""
        last: tuple[int, int] | None = None
        try:
            while not self._stop.is_set():
                try:
                    if not text:
                        status, _, body = await connection.get(path + "live.m3u8")
                        if status != 200:
                            self.errors += 1
                            await asyncio.sleep(0.2)  # not live yet: a player's retry pace
                            continue
                        text = body.decode()
                    found = _HINT.search(text)
                    if found is None:
                        return  # the show ended (no hint in the final playlist)
                    msn, part = found.groups()
                    status, _, body = await connection.get(
                        f"{path}live.m3u8?_HLS_msn={msn}&_HLS_part={part}"
                    )
                    if status != 200:
                        self.errors += 1
                        text = ""
                        continue
                    text = body.decode()
                    listed = [(int(m), int(k)) for m, k in _PART.findall(text)]
                    new = [p for p in listed if last is None or p > last] if listed else []
                    for m, k in new if last is not None else new[-1:]:
                        name = f"part{m}.{k}.m4s"
                        status, headers, _ = await connection.get(path + name)
                        if status != 200:
                            self.errors += 1
                            continue
                        last = (m, k)
                        self.fetched += 1
                        if headers.get("x-cache-status") == "HIT":
                            self.cache_hits += 1
                        self.parts.setdefault(name, time.monotonic())
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    self.errors += 1
                    text = ""
                    await asyncio.sleep(0.2)
        finally:
            connection.close()
