"""The product card: what the hub shows viewers and what checkout prices from.

One price rule (:func:`unit_price`), one shape (:class:`ProductCard`, built from
SQL by :func:`load_card`) and one per-process cache of cards
(:class:`ProductCards`). The catalog's API answers with its own richer
``ProductOut`` (stock, SKUs), priced by the same rule.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from livecommerce.db.engine import Database
from livecommerce.db.models import Product
from livecommerce.errors import NotFound
from livecommerce.ttlcache import TtlCache

__all__ = ["ProductCard", "ProductCards", "VariantCard", "load_card", "product_card", "unit_price"]


def unit_price(variant_price_minor: int | None, product_price_minor: int) -> int:
    """The price rule: a variant's own price if it has one, else its product's."""
    return variant_price_minor if variant_price_minor is not None else product_price_minor


@dataclass(frozen=True)
class VariantCard:
    id: int
    name: str
    #: Already priced by :func:`unit_price`.
    price_minor: int


@dataclass(frozen=True)
class ProductCard:
    id: int
    brand_id: int
    name: str
    description: str
    images: tuple[str, ...]
    price_minor: int
    currency: str
    commission_bps: int
    is_active: bool
    variants: dict[int, VariantCard]

    def variant(self, variant_id: int) -> VariantCard:
        """The variant (404 if the product has no such variant)."""
        found = self.variants.get(variant_id)
        if found is None:
            raise NotFound(f"product {self.id} has no variant {variant_id}")
        return found

    @functools.cached_property
    def viewer_card(self) -> dict[str, Any]:
        """The card viewers get in ``pinned`` events and snapshots (docs/protocol.md);
        built once per cached card. Callers must not change it."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "images": list(self.images),
            "price_minor": self.price_minor,
            "currency": self.currency,
            "variants": [
                {"id": v.id, "name": v.name, "price_minor": v.price_minor}
                for v in self.variants.values()
            ],
        }


def product_card(product: Product) -> ProductCard:
    """The card of a product loaded with its variants."""
    return ProductCard(
        id=product.id,
        brand_id=product.brand_id,
        name=product.name,
        description=product.description,
        images=tuple(product.images),
        price_minor=product.price_minor,
        currency=product.currency,
        commission_bps=product.commission_bps,
        is_active=product.is_active,
        variants={
            v.id: VariantCard(v.id, v.name, unit_price(v.price_minor, product.price_minor))
            for v in product.variants
        },
    )


async def load_card(session: AsyncSession, product_id: int) -> ProductCard | None:
    """One product and its variants from SQL (None if there is no such product)."""
    product = await session.scalar(
        select(Product).where(Product.id == product_id).options(selectinload(Product.variants))
    )
    return None if product is None else product_card(product)


class ProductCards:
    """Cards by product id, each kept ``ttl_s`` seconds per process: a price change
    shows within that time. Concurrent misses share one SQL read."""

    def __init__(
        self,
        db: Database,
        *,
        ttl_s: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self._cache: TtlCache[int, ProductCard | None] = TtlCache(
            self._load, ttl_s=ttl_s, max_entries=max_entries, clock=clock
        )

    async def _load(self, product_id: int) -> ProductCard | None:
        async with self.db.sessions() as session:
            return await load_card(session, product_id)

    async def get(self, product_id: int) -> ProductCard:
        """The product's card, withdrawn or not (404 if it does not exist)."""
        card = await self._cache.get(product_id)
        if card is None:
            raise NotFound(f"product {product_id} does not exist")
        return card

    async def on_sale(self, product_id: int) -> ProductCard:
        """The card of a product still sold (404 if missing or withdrawn)."""
        card = await self._cache.get(product_id)
        if card is None or not card.is_active:
            raise NotFound(f"product {product_id} does not exist or is no longer sold")
        return card

    def forget(self, product_id: int) -> None:
        self._cache.forget(product_id)
