"""A connection's bounded outgoing buffer, sending inline when the socket allows.

The fan-out never waits for a viewer. :meth:`Outbox.push` sends at once when
nothing is queued: it runs the ASGI ``send`` coroutine one step, and with
uvicorn's sans-I/O WebSocket protocol a send only suspends when the socket's
buffer is full, so the usual case is a plain call (no task, no wake-up). If
the send does suspend, a task takes over the suspended coroutine and drains
whatever is queued behind it. When ``limit`` frames (or ``max_chars``) wait,
the outbox gives up on the connection (close code
:data:`~livecommerce.hub.protocol.CLOSE_SLOW`); the viewer recovers by
reconnecting with ``join {since}``. So one slow viewer costs the others one
deque append per event.

With a :class:`~livecommerce.hub.frames.Wire` (uvicorn's sans-I/O protocol,
no compression), :meth:`Outbox.push_frame` writes the frame's prebuilt bytes
straight to the socket while nothing is queued and the socket is not backed
up; otherwise the frame takes the path above, so the bounds are unchanged.

Closing never waits behind a send stuck on a full socket: with a wire, the close
frame is written at once and the transport is aborted if the peer has not
taken it within ``close_grace_s`` (a viewer that never reads would otherwise
keep its connection and megabytes of kernel buffers until the heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, cast

from livecommerce.hub.frames import Wire
from livecommerce.hub.protocol import CLOSE_SLOW

__all__ = ["Outbox", "send_message"]

#: An ASGI ``send`` callable.
Send = Callable[[dict[str, Any]], Awaitable[None]]


def send_message(text: str) -> dict[str, Any]:
    """The ASGI message for one text frame (build once, give to every viewer)."""
    return {"type": "websocket.send", "text": text}


class _Resume:
    """Await a coroutine that has already been stepped once and yielded ``pending``
    (how a task takes over a send that could not finish inline)."""

    __slots__ = ("coro", "pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self.coro = coro
        self.pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self.coro, self.pending
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # cancellation: pass it on
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                pending = coro.send(value)
            except StopIteration as stop:
                return stop.value


class Outbox:
    __slots__ = (
        "_send",
        "_wire",
        "limit",
        "max_chars",
        "_chars",
        "_queue",
        "_task",
        "_drained",
        "_close_with",
        "close_grace_s",
        "close_code",
        "closed",
    )

    def __init__(
        self,
        send: Send,
        *,
        limit: int,
        max_chars: int,
        wire: Wire | None = None,
        close_grace_s: float = 5.0,
    ) -> None:
        self._send = send
        #: Direct writes of prebuilt frames, when the server offers them.
        self._wire = wire
        #: Frames and characters that may wait; past either, the viewer is too slow.
        self.limit = limit
        self.max_chars = max_chars
        self._chars = 0
        self._queue: deque[dict[str, Any]] = deque()
        #: The task draining the queue after a send had to wait; None when idle.
        self._task: asyncio.Task[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._close_with: tuple[int, str] | None = None
        #: Seconds a closing connection gets before its transport is aborted (with a wire).
        self.close_grace_s = close_grace_s
        #: The close code the server chose (None: not closed by the server).
        self.close_code: int | None = None
        #: True once the outbox takes no more frames.
        self.closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, text: str) -> None:
        """Send (or queue) one text frame; never blocks."""
        self.push_message(send_message(text))

    def push_frame(self, message: dict[str, Any], frame: bytes) -> None:
        """Send (or queue) one text frame given both as its ASGI ``message`` and as the
        WebSocket ``frame`` bytes of the same text; never blocks."""
        wire = self._wire
        if wire is None or self._task is not None or self.closed:
            # No direct path, or frames wait (in order) behind a suspended send.
            self.push_message(message)
            return
        if not wire.write(frame):  # backed up or closing: the ASGI path handles it
            self.push_message(message)

    def push_message(self, message: dict[str, Any]) -> None:
        """Send (or queue) one ASGI ``websocket.send`` message; never blocks. Overflow
        closes the connection as too slow."""
        if self.closed:
            return
        queue = self._queue
        if self._task is None:
            # Idle: try to send inline.
            # ASGI servers' send is a coroutine function; step it by hand.
            coro = cast(Coroutine[Any, Any, None], self._send(message))
            try:
                pending = coro.send(None)
            except StopIteration:
                return
            except Exception:  # the peer is gone; the endpoint cleans up
                self.stop()
                return
            self._task = asyncio.ensure_future(self._drain(_Resume(coro, pending)))
            return
        size = len(message.get("text") or message.get("bytes") or "")
        if queue and (len(queue) >= self.limit or self._chars + size > self.max_chars):
            self.close_after(
                CLOSE_SLOW, "too slow: reconnect and join with since", drop_pending=True
            )
            return
        queue.append(message)
        self._chars += size

    async def _drain(self, first: Awaitable[Any] | None) -> None:
        queue = self._queue
        try:
            if first is not None:
                await first
            while queue:
                message = queue.popleft()
                self._chars -= len(message.get("text") or message.get("bytes") or "")
                await self._send(message)
            if self._close_with is not None:
                code, reason = self._close_with
                with contextlib.suppress(Exception):
                    await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:  # the peer went away mid-send
            self.closed = True
            queue.clear()
        finally:
            self._task = None
            drained = self._drained
            if drained is not None and not drained.done():
                drained.set_result(None)

    def close_after(self, code: int, reason: str, *, drop_pending: bool = False) -> None:
        """Stop taking frames; send what is queued (unless ``drop_pending``), then close
        the WebSocket with ``code``."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        if drop_pending:
            self._queue.clear()
            self._chars = 0
        wire = self._wire
        if wire is not None and self._task is not None:
            # A send is stuck on a full socket: the close frame goes out now, not behind
            # it (the queued frames are dropped), and the grace starts.
            if wire.close(code, reason, abort_after=self.close_grace_s):
                self.stop()
                return
        self._close_with = (code, reason)
        if self._task is None:
            self._task = asyncio.ensure_future(self._drain(None))
        if wire is not None:
            wire.abort_after(self.close_grace_s)

    async def drain(self) -> None:
        """Wait until nothing is queued or in flight (for a sender of many frames)."""
        while self._task is not None and not self.closed:
            if self._drained is None or self._drained.done():
                self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    async def wait_closed(self, timeout: float) -> None:
        """Give a pending close frame ``timeout`` seconds to go out."""
        task = self._task
        if task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), timeout)

    def stop(self) -> None:
        """Stop without a close frame (the peer is already gone)."""
        self.closed = True
        self._queue.clear()
        self._chars = 0
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
