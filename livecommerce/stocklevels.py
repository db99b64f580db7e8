"""The one reader of units left: what the cart's Redis stock hashes say is available.

The cart (:mod:`cart.stock`) writes ``keys.product_stock`` (variant id -> units
available) with its Lua scripts; the hub's pinned card, the dashboard and the
cart's ``stock`` events read it through these functions. They live below both
``hub`` and ``cart`` so that neither imports the other to read a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

from livecommerce import keys

__all__ = ["total", "units_left", "units_left_of"]


def _parse(raw: Mapping[Any, Any]) -> dict[int, int] | None:
    if not raw:
        return None
    return {int(v): max(0, int(a)) for v, a in raw.items()}


async def units_left(redis: Redis, product_id: int) -> dict[int, int] | None:
    """Variant id -> units available now; None if the product is not on sale in Redis.
    One HGETALL."""
    return _parse(await redis.hgetall(keys.product_stock(product_id)))


async def units_left_of(
    redis: Redis, product_ids: Sequence[int]
) -> dict[int, dict[int, int] | None]:
    """:func:`units_left` of several products in one round trip (a pipeline)."""
    if not product_ids:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for pid in product_ids:
            pipe.hgetall(keys.product_stock(pid))
        replies = await pipe.execute()
    return {pid: _parse(raw) for pid, raw in zip(product_ids, replies, strict=True)}


def total(variants: dict[int, int] | None) -> int | None:
    """Units left of the whole product (None stays None: not on sale)."""
    return None if variants is None else sum(variants.values())
