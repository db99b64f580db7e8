"""What viewers see of a pinned product: its card and its units left.

Cards come from SQL and are cached per process for a few seconds (thousands of
viewers joining at once must not mean thousands of queries); units left come
from the cart's Redis counters when the product is on sale
(:mod:`livecommerce.stocklevels`).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from typing_extensions import TypedDict

from livecommerce.catalog.cards import ProductCards
from livecommerce.pinstate import PinState, PinTerms
from livecommerce.stocklevels import total, units_left

__all__ = ["CardCache", "PinnedView", "pinned_view"]

#: The hub's product cards: :class:`livecommerce.catalog.cards.ProductCards`
#: (build it with ``ttl_s=settings.card_ttl_s``).
CardCache = ProductCards


class PinnedView(TypedDict):
    """A pinned product as viewers see it: the ``pinned`` event's fields and the
    snapshot's ``pinned`` (docs/protocol.md)."""

    pin: PinTerms
    product: dict[str, Any]
    units_left: int | None
    variants_left: dict[str, int] | None


async def pinned_view(redis: Redis, cards: CardCache, pin: PinState) -> PinnedView:
    """Pin terms, card and units left of ``pin``."""
    variants = await units_left(redis, pin.product_id)
    return PinnedView(
        pin=pin.terms(),
        product=(await cards.get(pin.product_id)).viewer_card,
        units_left=total(variants),
        variants_left=None if variants is None else {str(k): v for k, v in variants.items()},
    )
