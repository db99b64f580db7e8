"""The current pin of a live session, as kept in Redis (``keys.session_pin``).

The hub writes it when a host pins or unpins; the cart reads it at checkout
to honour a flash price, quantity cap and end time (server-side: the client's
price is never trusted). A pin's terms never change while it is pinned: a new
price means a new pin with a new ``pin_id``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from redis.asyncio import Redis
from typing_extensions import TypedDict

from livecommerce import encoding, keys

__all__ = ["PinState", "PinTerms", "clear_pin", "current_pin", "parse_pin", "store_pin"]


class PinTerms(TypedDict):
    """A pin's terms as viewers get them (the ``pin`` of a ``pinned`` event)."""

    pin_id: int
    product_id: int
    pinned_at_ms: int
    flash_price_minor: int | None
    quantity_cap: int | None
    ends_at_ms: int | None


@dataclass(frozen=True)
class PinState:
    pin_id: int
    session_id: int
    product_id: int
    pinned_at_ms: int
    flash_price_minor: int | None = None
    #: Units that may sell at the flash price during this pin (None: no cap).
    quantity_cap: int | None = None
    #: When the flash terms end (unix ms); None: until unpinned.
    ends_at_ms: int | None = None

    def terms(self) -> PinTerms:
        return PinTerms(
            pin_id=self.pin_id,
            product_id=self.product_id,
            pinned_at_ms=self.pinned_at_ms,
            flash_price_minor=self.flash_price_minor,
            quantity_cap=self.quantity_cap,
            ends_at_ms=self.ends_at_ms,
        )

    def flash_active(self, now_ms: int) -> bool:
        """Whether the flash price applies at ``now_ms``."""
        return self.flash_price_minor is not None and (
            self.ends_at_ms is None or now_ms < self.ends_at_ms
        )


async def current_pin(redis: Redis, session_id: int) -> PinState | None:
    return parse_pin(await redis.get(keys.session_pin(session_id)))


def parse_pin(raw: bytes | str | None) -> PinState | None:
    """The pin stored at ``keys.session_pin`` (None: nothing pinned)."""
    return None if raw is None else PinState(**encoding.loads(raw))


async def store_pin(redis: Redis, pin: PinState) -> None:
    await redis.set(keys.session_pin(pin.session_id), encoding.dumps(asdict(pin)))


async def clear_pin(redis: Redis, session_id: int) -> None:
    await redis.delete(keys.session_pin(session_id))
