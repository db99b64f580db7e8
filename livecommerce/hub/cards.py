"""What viewers see of a pinned product: its card and its units left.

Cards come from SQL and are cached per process for a few seconds (thousands of
viewers joining at once must not mean thousands of queries); units left come
from the cart's Redis counters when the product is on sale
(:mod:`livecommerce.stocklevels`).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from livecommerce.db.engine import Database
from livecommerce.db.models import Product
from livecommerce.errors import NotFound
from livecommerce.hub.pinstate import PinState
from livecommerce.stocklevels import units_left

__all__ = ["CardCache", "pinned_view"]


class CardCache:
    """Product cards by id, each kept ``ttl_s`` seconds."""

    def __init__(self, db: Database, *, ttl_s: float = 5.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._cards: dict[int, tuple[float, dict[str, Any]]] = {}

    async def card(self, product_id: int) -> dict[str, Any]:
        """The product's card (404 if it does not exist)."""
        now = time.monotonic()
        hit = self._cards.get(product_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.db.sessions() as session:
            product = await session.scalar(
                select(Product)
                .where(Product.id == product_id)
                .options(selectinload(Product.variants))
            )
            if product is None:
                raise NotFound(f"product {product_id} does not exist")
            card = {
                "id": product.id,
                "name": product.name,
                "description": product.description,
                "images": list(product.images),
                "price_minor": product.price_minor,
                "currency": product.currency,
                "variants": [
                    {
                        "id": v.id,
                        "name": v.name,
                        "price_minor": v.price_minor
                        if v.price_minor is not None
                        else product.price_minor,
                    }
                    for v in product.variants
                ],
            }
        if len(self._cards) > 10_000:
            self._cards.clear()
        self._cards[product_id] = (now + self.ttl_s, card)
        return card

    def forget(self, product_id: int) -> None:
        self._cards.pop(product_id, None)


async def pinned_view(redis: Redis, cards: CardCache, pin: PinState) -> dict[str, Any]:
    """The ``pinned`` payload (also the snapshot's ``pinned``): pin terms, card, units left."""
    variants = await units_left(redis, pin.product_id)
    terms = asdict(pin)
    del terms["session_id"]
    return {
        "pin": terms,
        "product": await cards.card(pin.product_id),
        "units_left": None if variants is None else sum(variants.values()),
        "variants_left": None if variants is None else {str(k): v for k, v in variants.items()},
    }
