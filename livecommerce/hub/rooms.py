"""Delivery of a session's events to this process's viewers, without I/O.

A :class:`Room` is one session as seen by one hub process: its local
:class:`Subscriber` s and the position reached in the session's stream. The
reader hands it events in ``seq`` order; the room turns them into frames
(low-rate events at once, high-rate ones coalesced into ``batch`` frames) and
offers each frame to every subscriber.

A subscriber that has just joined is *syncing*: it is sent a snapshot or the
missed events first, while live events are held; :meth:`Subscriber.start`
then releases the held events it has not already seen. Every subscriber keeps
the last ``seq`` it was sent, so an event is never sent twice nor out of order
(DESIGN I5).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from livecommerce.hub.frames import text_frame
from livecommerce.hub.outbox import Outbox, send_message
from livecommerce.hub.protocol import COALESCED_KINDS, batch_frame

__all__ = ["Event", "Frame", "Room", "Subscriber"]


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    kind: str
    #: The stored JSON text, sent as is.
    text: str


class Frame:
    """Events going out together, as one text frame; ``message`` (its ASGI message) and
    ``wire`` (its WebSocket frame bytes) are built once and handed to every viewer."""

    __slots__ = ("events", "text", "message", "wire")

    def __init__(self, events: Sequence[Event], text: str) -> None:
        self.events = events
        self.text = text
        self.message = send_message(text)
        self.wire = text_frame(text.encode())

    @classmethod
    def of(cls, events: Sequence[Event]) -> Frame:
        return cls(events, batch_frame([e.text for e in events]))


class Subscriber:
    """One connection joined to one session (``user_id``: who, None if anonymous)."""

    __slots__ = ("outbox", "session_id", "user_id", "last_seq", "_held")

    def __init__(self, outbox: Outbox, session_id: int, *, user_id: int | None = None) -> None:
        self.outbox = outbox
        self.session_id = session_id
        self.user_id = user_id
        self.last_seq = 0
        self._held: list[Event] | None = []

    @property
    def syncing(self) -> bool:
        return self._held is not None

    def offer(self, frame: Frame) -> None:
        held = self._held
        if held is not None:
            held.extend(frame.events)
            return
        events = frame.events
        if events[-1].seq <= self.last_seq:
            return
        if events[0].seq > self.last_seq:
            self.outbox.push_frame(frame.message, frame.wire)
        else:  # partly seen (rare: right after a sync); send only the new ones
            self.outbox.push(Frame.of([e for e in events if e.seq > self.last_seq]).text)
        self.last_seq = events[-1].seq

    def start(self, last_seq: int) -> None:
        """End the sync: the client has everything up to ``last_seq``; send what was held."""
        held, self._held = self._held or [], None
        self.last_seq = last_seq
        fresh = [e for e in held if e.seq > last_seq]
        if fresh:
            self.offer(Frame.of(fresh))


class Room:
    """One session's local viewers and stream position in one process."""

    def __init__(self, session_id: int, *, last_seq: int) -> None:
        self.session_id = session_id
        self.subscribers: set[Subscriber] = set()
        #: The last seq read from the stream (the reader continues after it).
        self.last_seq = last_seq
        self.pending: list[Event] = []
        #: Set by the fan-out while a flush of ``pending`` is scheduled.
        self.flush_scheduled = False
        #: ``(seq, ASGI message)`` of a snapshot taken at ``seq``; reusable while
        #: ``last_seq`` has not moved past it.
        self.snapshot: tuple[int, dict[str, Any]] | None = None

    def ingest(self, events: Sequence[Event]) -> tuple[list[Frame], bool]:
        """Take events read from the stream in one read (in order). Returns the frames to
        send now (at most one: a burst costs each viewer one frame, not one per event),
        and whether coalesced events wait in ``pending`` for a flush."""
        pending = self.pending
        urgent = -1  # index of the last event that must go out now
        for i, event in enumerate(events):
            if event.kind not in COALESCED_KINDS:
                urgent = i
        self.last_seq = events[-1].seq
        if urgent < 0:
            pending.extend(events)
            return [], True
        # What waited goes first, then everything up to the last urgent event; the
        # coalesced events after it wait for the next flush.
        now = [*pending, *events[: urgent + 1]]
        self.pending = list(events[urgent + 1 :])
        return [Frame.of(now)], bool(self.pending)

    def flush(self) -> Frame | None:
        """The coalesced events waiting, as one frame."""
        self.flush_scheduled = False
        if not self.pending:
            return None
        frame = Frame.of(self.pending)
        self.pending = []
        return frame

    def fan_out(self, frames: Iterable[Frame]) -> None:
        subscribers = self.subscribers
        for frame in frames:
            for subscriber in subscribers:
                subscriber.offer(frame)
