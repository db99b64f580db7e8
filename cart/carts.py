"""The per-user cart in Redis: lines ``(product, variant) -> quantity``, expiring when idle.

Adding to the cart holds no stock (only checkout reserves), so a cart is just a
small hash under the user's hash tag. Every read or write pushes its expiry
``ttl_s`` into the future; an idle cart disappears on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from livecommerce import keys
from livecommerce.errors import NotFound, ValidationFailed

__all__ = ["CartContents", "CartStore"]

_SESSION = b"session"
MAX_QUANTITY = 99


@dataclass(frozen=True)
class CartContents:
    #: (product id, variant id) -> quantity, in the order the lines were added.
    lines: dict[tuple[int, int], int]
    session_id: int | None


def _field(product_id: int, variant_id: int) -> str:
    return f"l:{product_id}:{variant_id}"


class CartStore:
    def __init__(self, redis: Redis, *, ttl_s: int, max_lines: int = 50) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.max_lines = max_lines

    async def get(self, user_id: int) -> CartContents:
        key = keys.cart(user_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(key)
        pipe.expire(key, self.ttl_s)
        raw, _ = await pipe.execute()
        lines: dict[tuple[int, int], int] = {}
        session_id = None
        for name, value in raw.items():
            if name == _SESSION:
                session_id = int(value)
                continue
            _, product, variant = name.decode().split(":")
            lines[(int(product), int(variant))] = int(value)
        return CartContents(lines=lines, session_id=session_id)

    async def add(
        self, user_id: int, product_id: int, variant_id: int, quantity: int, session_id: int | None
    ) -> None:
        """Add ``quantity`` to the line (created if new); 422 past 99 units or 50 lines."""
        key = keys.cart(user_id)
        field = _field(product_id, variant_id)
        current = await self.redis.hget(key, field)
        if current is None and await self.redis.hlen(key) >= self.max_lines + 1:
            raise ValidationFailed(f"a cart holds at most {self.max_lines} lines", code="cart_full")
        if int(current or 0) + quantity > MAX_QUANTITY:
            raise ValidationFailed(
                f"quantity: at most {MAX_QUANTITY} units of one variant", code="too_many_units"
            )
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(key, field, quantity)
        if session_id is not None:
            pipe.hset(key, _SESSION, session_id)
        pipe.expire(key, self.ttl_s)
        await pipe.execute()

    async def set(self, user_id: int, product_id: int, variant_id: int, quantity: int) -> None:
        """Set a line's quantity (0 removes it); 404 if the line is not in the cart."""
        key = keys.cart(user_id)
        field = _field(product_id, variant_id)
        if not await self.redis.hexists(key, field):
            raise NotFound(f"variant {variant_id} of product {product_id} is not in your cart")
        if quantity == 0:
            await self.redis.hdel(key, field)
        else:
            await self.redis.hset(key, field, quantity)
        await self.redis.expire(key, self.ttl_s)

    async def remove(self, user_id: int, product_id: int, variant_id: int) -> None:
        await self.set(user_id, product_id, variant_id, 0)

    async def clear(self, user_id: int) -> None:
        await self.redis.delete(keys.cart(user_id))
