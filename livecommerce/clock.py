"""The app's clock: wall-clock time that tests can move.

One :class:`Clock` per app (``Services.clock``). Code that needs "now" asks it —
``clock()`` for epoch seconds (a drop-in for ``time.time``), ``clock.now()`` for an
aware UTC ``datetime`` — so time-based rules (the return window, rate locks,
attribution windows, payouts) are tested by moving it, never by sleeping:

* in-process (``tests/support.py::ServerThread``): ``server.clock.advance(days=31)``
  moves a running server's clock at once;
* in a subprocess (``livecommerce serve``/``worker``/``payouts``): the setting
  ``CLOCK_OFFSET_S`` (refused when ``LIVECOMMERCE_ENV=production``) starts it moved.

The offset only ever shifts the wall clock; monotonic timers (caches, throttles,
timeouts) do not read this clock and keep real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock"]


class Clock:
    """Epoch seconds from ``source`` plus ``offset_s`` (0 in production)."""

    def __init__(self, *, offset_s: float = 0.0, source: Callable[[], float] = time.time) -> None:
        self.offset_s = offset_s
        self._source = source

    def __call__(self) -> float:
        return self._source() + self.offset_s

    def now(self) -> datetime:
        """This moment as an aware UTC datetime."""
        return datetime.fromtimestamp(self(), UTC)

    def now_ms(self) -> int:
        return int(self() * 1000)

    def advance(self, *, days: float = 0, seconds: float = 0) -> None:
        """Move the clock forward (tests only)."""
        self.offset_s += days * 86400 + seconds

    def set(self, moment: datetime) -> None:
        """Make ``now()`` read ``moment`` at this instant (tests only; it keeps ticking)."""
        self.offset_s = moment.timestamp() - self._source()
