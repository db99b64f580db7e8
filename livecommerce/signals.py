"""In-process signals, so one part can react to another without importing it.

The catalog and live sessions emit; the hub (session_state events) and the
cart (loading stock into Redis when a product goes on sale) listen. Handlers
run in order and their errors propagate to the sender: a signal is part of
the request that caused it, not a fire-and-forget.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = [
    "LINEUP_CHANGED",
    "PRODUCT_PINNED",
    "SESSION_STATE_CHANGED",
    "STOCK_TOTAL_CHANGED",
    "Signals",
]

#: kwargs: session_id:int, status:str ("scheduled" | "live" | "ended")
SESSION_STATE_CHANGED = "session_state_changed"
#: kwargs: session_id:int, product_ids:list[int]
LINEUP_CHANGED = "lineup_changed"
#: kwargs: product_id:int, variant_id:int, old_total:int, new_total:int
STOCK_TOTAL_CHANGED = "stock_total_changed"
#: kwargs: session_id:int, pin:livecommerce.hub.pinstate.PinState — sent before viewers
#: are told, so the cart can put the product's stock on sale in Redis first.
PRODUCT_PINNED = "product_pinned"

Receiver = Callable[..., Awaitable[None]]


class Signals:
    def __init__(self) -> None:
        self._receivers: defaultdict[str, list[Receiver]] = defaultdict(list)

    def connect(self, name: str, receiver: Receiver) -> None:
        self._receivers[name].append(receiver)

    async def send(self, name: str, **kwargs: Any) -> None:
        for receiver in self._receivers.get(name, ()):
            await receiver(**kwargs)
