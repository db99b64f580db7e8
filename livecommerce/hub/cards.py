"""What viewers see of a pinned product: its card and its units left.

Cards come from SQL and are cached per process for a few seconds (thousands of
viewers joining at once must not mean thousands of queries); units left come
from the cart's Redis counters when the product is on sale
(:mod:`livecommerce.stocklevels`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from redis.asyncio import Redis

from livecommerce.catalog.cards import ProductCards
from livecommerce.pinstate import PinState
from livecommerce.stocklevels import total, units_left

__all__ = ["CardCache", "pinned_view"]

#: The hub's product cards: :class:`livecommerce.catalog.cards.ProductCards`
#: (build it with ``ttl_s=settings.card_ttl_s``).
CardCache = ProductCards


async def pinned_view(redis: Redis, cards: CardCache, pin: PinState) -> dict[str, Any]:
    """The ``pinned`` payload (also the snapshot's ``pinned``): pin terms, card, units left."""
    variants = await units_left(redis, pin.product_id)
    terms = asdict(pin)
    del terms["session_id"]
    return {
        "pin": terms,
        "product": (await cards.get(pin.product_id)).viewer_card,
        "units_left": total(variants),
        "variants_left": None if variants is None else {str(k): v for k, v in variants.items()},
    }
