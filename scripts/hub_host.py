"""The host of scripts/bench_hub.py: pins and unpins over its WebSocket, ours or socket.io.

Each pin's send time is taken just before the request leaves, so that pin → viewer
latency (on one machine's clock) includes the whole path through the servers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any


async def host_ours(
    port: int,
    token: str,
    session: int,
    products: list[int],
    pins: int,
    interval: float,
    max_seconds: float,
    log: Callable[[str], None],
) -> tuple[dict[int, float], dict[str, Any] | None]:
    """Pin/unpin over the host's WebSocket, each request after the previous one's ack
    (as a host's app does); returns pin id → send time, and one pinned event (to give
    the baseline the same payload)."""
    from websockets.asyncio.client import connect

    sent: dict[int, float] = {}
    acks: list[float] = []
    sample: dict[str, Any] | None = None
    waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
    async with connect(f"ws://127.0.0.1:{port}/ws?token={token}", max_size=None) as ws:

        async def read() -> None:
            nonlocal sample
            async for message in ws:
                frame = json.loads(message)
                events = frame["events"] if frame.get("type") == "batch" else [frame]
                for event in events:
                    kind = event.get("type")
                    if kind in ("ack", "error") and event.get("id") in waiting:
                        waiting.pop(event["id"]).set_result(event)
                    elif kind == "pinned" and sample is None:
                        sample = event

        async def request(body: dict[str, Any]) -> dict[str, Any]:
            future = asyncio.get_running_loop().create_future()
            waiting[body["id"]] = future
            await ws.send(json.dumps(body))
            reply: dict[str, Any] = await asyncio.wait_for(future, 30)
            if reply["type"] == "error":
                log(f"  host error: {reply}")
            return reply

        reader = asyncio.create_task(read())
        await request({"type": "join", "session": session, "id": "j"})
        deadline = time.monotonic() + max_seconds
        for i in range(pins):
            if time.monotonic() > deadline:
                log(f"  stopping after {i} pins: the {max_seconds:g} s budget is spent")
                break
            t0 = time.time()
            reply = await request(
                {
                    "type": "pin",
                    "id": f"p{i}",
                    "session": session,
                    "product_id": products[i % len(products)],
                    "flash_price_minor": 1999,
                    "duration_s": 60,
                }
            )
            acks.append((time.time() - t0) * 1000)
            if reply["type"] == "ack":
                sent[reply["pin"]["id"]] = t0
            await asyncio.sleep(interval)
            await request({"type": "unpin", "id": f"u{i}", "session": session})
            await asyncio.sleep(interval)
            if (i + 1) % 25 == 0:
                log(f"  {i + 1}/{pins} pins")
        reader.cancel()
    acks.sort()
    log(f"  pin request → ack: p50 {acks[len(acks) // 2]:.1f} ms, max {acks[-1]:.1f} ms")
    return sent, sample


async def host_baseline(
    port: int,
    session: int,
    payload: dict[str, Any],
    pins: int,
    interval: float,
    max_seconds: float,
    log: Callable[[str], None],
) -> dict[int, float]:
    """The same for socket.io: ``pin``/``unpin`` events with acks, one after another."""
    from websockets.asyncio.client import connect

    sent: dict[int, float] = {}
    waiting: dict[int, asyncio.Future[None]] = {}
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    async with connect(url, max_size=None) as ws:
        assert str(await ws.recv()).startswith("0{")
        await ws.send("40")
        assert str(await ws.recv()).startswith("40")

        async def read() -> None:
            async for message in ws:
                text = str(message)
                if text == "2":
                    await ws.send("3")
                elif text.startswith("43"):
                    ack_id = int(text[2 : text.index("[")])
                    if ack_id in waiting:
                        waiting.pop(ack_id).set_result(None)

        async def emit(ack_id: int, event: str, body: dict[str, Any]) -> None:
            future = asyncio.get_running_loop().create_future()
            waiting[ack_id] = future
            await ws.send(f"42{ack_id}" + json.dumps([event, body]))
            await asyncio.wait_for(future, 30)

        reader = asyncio.create_task(read())
        deadline = time.monotonic() + max_seconds
        for i in range(pins):
            if time.monotonic() > deadline:
                log(f"  stopping after {i} pins: the {max_seconds:g} s budget is spent")
                break
            pin_id = 10_000_000 + i
            body = {**payload, "session": session}
            body["pin"] = {**payload.get("pin", {}), "pin_id": pin_id}
            sent[pin_id] = time.time()
            await emit(2 * i + 1, "pin", body)
            await asyncio.sleep(interval)
            await emit(2 * i + 2, "unpin", {"session": session, "pin_id": pin_id})
            await asyncio.sleep(interval)
            if (i + 1) % 25 == 0:
                log(f"  {i + 1}/{pins} pins")
        reader.cancel()
    return sent
