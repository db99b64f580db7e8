"""Low-latency HLS clients that make a player's requests without decoding.

Each client follows the live edge as hls.js does with blocking playlist reload:
ask for the playlist holding the part named by the last ``EXT-X-PRELOAD-HINT``
(``_HLS_msn``/``_HLS_part``, the origin or the CDN holds the request until it
exists), then fetch that part. Hundreds run on one event loop
(``tests/test_hls_cdn.py``, ``scripts/bench_hls.py``); the playlist is read with
a string search, not a full parser, and the clients share httpx clients in groups
of :data:`GROUP` (one pool for hundreds of concurrent requests spends milliseconds
per request managing it), to keep the load generator cheap.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

import httpx

__all__ = ["GROUP", "HlsCrowd", "origin_counts"]

#: Clients per httpx client (connection pool).
GROUP = 10

_HINT = re.compile(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s"')
_COUNTER = re.compile(r'^livecommerce_hls_requests_total\{kind="(\w+)"\} ([0-9.e+]+)$', re.M)


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
    _pools: list[httpx.AsyncClient] = field(default_factory=list)

    async def start(self) -> None:
        limits = httpx.Limits(max_connections=GROUP * 2, max_keepalive_connections=GROUP * 2)
        for i in range(self.size):
            if i % GROUP == 0:
                self._pools.append(httpx.AsyncClient(timeout=30, limits=limits))
            self._tasks.append(asyncio.create_task(self._client(self._pools[-1])))
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(pool.aclose() for pool in self._pools), return_exceptions=True)

    async def _client(self, client: httpx.AsyncClient) -> None:
        url = f"{self.base}/hls/{self.session_id}/"
        text = ""
        while not self._stop.is_set():
            try:
                if not text:
                    r = await client.get(url + "live.m3u8")
                    if r.status_code != 200:
                        self.errors += 1
                        await asyncio.sleep(0.2)  # not live yet: a player's retry pace
                        continue
                    text = r.text
                found = _HINT.search(text)
                if found is None:
                    return  # the show ended (no hint in the final playlist)
                msn, part = found.groups()
                r = await client.get(url + "live.m3u8", params={"_HLS_msn": msn, "_HLS_part": part})
                if r.status_code != 200:
                    self.errors += 1
                    text = ""
                    continue
                text = r.text
                name = f"part{msn}.{part}.m4s"
                media = await client.get(url + name)
                if media.status_code != 200:
                    self.errors += 1
                    continue
                self.fetched += 1
                if media.headers.get("x-cache-status") == "HIT":
                    self.cache_hits += 1
                self.parts.setdefault(name, time.monotonic())
            except httpx.HTTPError:
                self.errors += 1
                text = ""
