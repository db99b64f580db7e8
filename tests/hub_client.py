"""A small test client for the hub's WebSocket protocol (real sockets, websockets library)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.support import seconds

_ids = itertools.count(1)


class HubClient:
    """Keeps every frame received (batches unwrapped) and answers ``request`` by id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed_code: int | None = None

    @classmethod
    async def open(cls, base_url: str, *, token: str | None = None, **kwargs: Any) -> HubClient:
        url = base_url.replace("http://", "ws://") + "/ws"
        if token:
            url += f"?token={token}"
        ws = await connect(url, max_size=None, ping_interval=None, **kwargs)
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                frame = json.loads(message)
                if frame.get("type") == "batch":
                    self.frames.extend(frame["events"])
                else:
                    self.frames.append(frame)
                self._changed.set()
        except Exception:
            pass
        finally:
            self.closed_code = self.ws.close_code
            self._changed.set()

    async def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5) -> Any:
        """The first frame received so far (or soon) that matches."""
        seen = 0
        async with asyncio.timeout(seconds(timeout)):
            while True:
                frames = self.frames
                for i in range(seen, len(frames)):
                    if predicate(frames[i]):
                        return frames[i]
                seen = len(frames)
                if self._reader.done():
                    raise AssertionError(f"closed ({self.closed_code}) before a match")
                self._changed.clear()
                await self._changed.wait()

    async def wait_closed(self, timeout: float = 10) -> int | None:
        async with asyncio.timeout(seconds(timeout)):
            await asyncio.shield(self._reader)
        return self.closed_code

    async def request(self, type: str, **body: Any) -> dict[str, Any]:
        """Send a request; return its ``ack`` or ``error`` reply."""
        request_id = next(_ids)
        await self.ws.send(json.dumps({"type": type, "id": request_id, **body}))
        frame: dict[str, Any] = await self.wait(
            lambda f: f.get("type") in ("ack", "error") and f.get("id") == request_id
        )
        return frame

    async def join(self, session: int, since: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"session": session}
        if since is not None:
            body["since"] = since
        reply = await self.request("join", **body)
        assert reply["type"] == "ack", reply
        return reply

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]

    def seqs(self) -> list[int]:
        return [f["seq"] for f in self.frames if "seq" in f and f.get("type") != "snapshot"]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
