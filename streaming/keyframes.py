"""Keyframe requests (PLI) towards the publisher, rate-limited per session.

Every joining viewer, every viewer that lost its picture and every viewer
that fell behind needs a keyframe; asking the host's encoder for one each
time would flood it with intra frames (each several times a P-frame's size).
So requests are coalesced: at most one PLI per ``min_interval`` seconds; a
request inside the window is not dropped but answered by one PLI at the
window's end, so no viewer waits longer than ``min_interval``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["KeyframeRequester"]


class KeyframeRequester:
    """Calls ``send`` (which must not block: it schedules the PLI) at most once
    per ``min_interval`` seconds. Call :meth:`close` when the publisher goes."""

    def __init__(
        self,
        send: Callable[[], None],
        *,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._min_interval = min_interval
        self._clock = clock
        self._last: float | None = None
        self._pending: asyncio.TimerHandle | None = None
        #: PLIs actually sent, and requests received (for health and tests).
        self.sent = 0
        self.requested = 0

    def request(self) -> None:
        """Ask for a keyframe soon; safe to call as often as you like."""
        self.requested += 1
        if self._pending is not None:
            return  # one is already scheduled for the end of the window
        now = self._clock()
        wait = 0.0 if self._last is None else self._last + self._min_interval - now
        if wait <= 0:
            self._fire()
        else:
            self._pending = asyncio.get_running_loop().call_later(wait, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self._last = self._clock()
        self.sent += 1
        self._send()

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
