"""Typed domain events, so one part can react to another without importing it.

The catalog, live sessions and pins publish; the hub (``session_state`` frames), the
cart (stock on sale in Redis) and the relay (cutting an ended stream) subscribe.

Each event is a frozen dataclass; a subscriber names the class it wants and gets
exactly that type (no ``**kwargs``). Subscribers run in subscription order and their
errors propagate to the publisher: an event is part of the request that caused it,
not a fire-and-forget. Two kinds, by when they are published:

- *facts* (:class:`SessionStateChanged`, :class:`LineupChanged`,
  :class:`ProductPinned`) are published after the change is committed in SQL, so a
  subscriber never acts on something that is later rolled back;
- *vetoable changes* (:class:`StockTotalChanging`) are published before the commit: a
  subscriber that raises refuses the change, and the publisher's transaction rolls back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from livecommerce.pinstate import PinState

__all__ = [
    "Event",
    "EventBus",
    "HandleChanged",
    "LineupChanged",
    "ProductAvailabilityChanged",
    "ProductPinned",
    "SessionStateChanged",
    "StockTotalChanging",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every domain event."""


@dataclass(frozen=True, slots=True)
class SessionStateChanged(Event):
    """A session moved to ``status`` ("live", "ended" or "deleted"); published after the
    commit."""

    session_id: int
    status: str


@dataclass(frozen=True, slots=True)
class LineupChanged(Event):
    """A session's lineup is now ``product_ids``; published after the commit."""

    session_id: int
    product_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StockTotalChanging(Event):
    """A variant's stock total is about to change; published before the commit, and a
    subscriber refuses it by raising (the cart refuses a total below sold + held)."""

    product_id: int
    variant_id: int
    old_total: int
    new_total: int


@dataclass(frozen=True, slots=True)
class ProductAvailabilityChanged(Event):
    """A product was withdrawn (``is_active`` false) or put back on sale; published after
    the commit (affiliate links to it answer 410 while it is withdrawn)."""

    product_id: int
    is_active: bool


@dataclass(frozen=True, slots=True)
class HandleChanged(Event):
    """A user's public handle changed (``/@<handle>``); published after the commit."""

    user_id: int
    handle: str


@dataclass(frozen=True, slots=True)
class ProductPinned(Event):
    """A product was pinned (committed); published before viewers are told, so the
    cart puts the product's stock on sale in Redis first."""

    session_id: int
    pin: PinState


E = TypeVar("E", bound=Event)
Subscriber = Callable[[E], Awaitable[None]]


class EventBus:
    """In-process publish/subscribe over the event classes above."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[type[Event], list[Callable[[Any], Awaitable[None]]]] = (
            defaultdict(list)
        )

    def subscribe(self, kind: type[E], subscriber: Subscriber[E]) -> None:
        self._subscribers[kind].append(subscriber)

    async def publish(self, event: Event) -> None:
        for subscriber in self._subscribers.get(type(event), ()):
            await subscriber(event)
