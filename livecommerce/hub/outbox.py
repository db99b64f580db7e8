"""A connection's bounded outgoing buffer and the one task that writes it.

The fan-out never awaits a viewer: it :meth:`Outbox.push` es a frame (a deque
append) and moves on. The writer task sends frames in order; when the socket
cannot keep up and ``limit`` frames (or ``max_chars``) are waiting, the outbox gives up on the
connection (close code :data:`~livecommerce.hub.protocol.CLOSE_SLOW`); the
viewer recovers by reconnecting with ``join {since}``. So one slow viewer
costs the others nothing but one deque append per event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

from livecommerce.hub.protocol import CLOSE_SLOW

__all__ = ["Outbox"]

Send = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


class Outbox:
    __slots__ = (
        "_send",
        "_close",
        "limit",
        "max_chars",
        "_chars",
        "_queue",
        "_wakeup",
        "_drained",
        "_close_with",
        "closed",
    )

    def __init__(self, send: Send, close: Close, *, limit: int, max_chars: int) -> None:
        self._send = send
        self._close = close
        #: Frames and characters that may wait; past either, the viewer is too slow.
        self.limit = limit
        self.max_chars = max_chars
        self._chars = 0
        self._queue: deque[str] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._close_with: tuple[int, str] | None = None
        #: True once the outbox takes no more frames.
        self.closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, frame: str) -> None:
        """Queue ``frame``; never blocks. Overflow closes the connection as too slow."""
        if self.closed:
            return
        queue = self._queue
        if queue and (len(queue) >= self.limit or self._chars + len(frame) > self.max_chars):
            self.close_after(
                CLOSE_SLOW, "too slow: reconnect and join with since", drop_pending=True
            )
            return
        queue.append(frame)
        self._chars += len(frame)
        self._wake()

    def close_after(self, code: int, reason: str, *, drop_pending: bool = False) -> None:
        """Stop taking frames; the writer sends what is queued (unless ``drop_pending``),
        then closes the WebSocket with ``code``."""
        if self.closed:
            return
        self.closed = True
        if drop_pending:
            self._queue.clear()
            self._chars = 0
        self._close_with = (code, reason)
        self._wake()

    def _wake(self) -> None:
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        drained = self._drained
        if self.closed and drained is not None and not drained.done():
            drained.set_result(None)

    async def run(self) -> None:
        """The writer task: runs until closed (or the peer goes away: send raises)."""
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            while queue:
                frame = queue.popleft()
                self._chars -= len(frame)
                await self._send(frame)
            drained = self._drained
            if drained is not None and not drained.done():
                drained.set_result(None)
            if self.closed:
                break
            self._wakeup = loop.create_future()
            await self._wakeup
            self._wakeup = None
        if self._close_with is not None:
            with contextlib.suppress(Exception):
                await self._close(*self._close_with)

    async def drain(self) -> None:
        """Wait until nothing is queued (for a sender of many frames, like a replay)."""
        while self._queue and not self.closed:
            if self._drained is None or self._drained.done():
                self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    def stop(self) -> None:
        """Stop without a close frame (the peer is already gone)."""
        self.closed = True
        self._queue.clear()
        self._chars = 0
        self._wake()
