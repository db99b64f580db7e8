"""Telling a buyer's live connections about their order: the one hook.

Every committed change a buyer should see live goes through :meth:`OrderFeed.changed`,
called once, after the commit: checkout writing the order (``paid``), fulfil, refund,
and a buyer's refund request (``refund_requested``). It publishes an ``order_status``
frame on the buyer's channel (:mod:`livecommerce.userfeed`); every hub process with a
connection signed in as the buyer forwards it there (``docs/protocol.md``).

Best effort: the order is already committed when this runs, so a Redis error is logged
and swallowed, never turned into a failed request. Clients refetch ``GET /api/orders``
when they reconnect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from livecommerce import userfeed
from livecommerce.redismux import RedisMux

__all__ = ["OrderFeed"]

log = logging.getLogger("livecommerce.cart")


class OrderFeed:
    """Publishes ``order_status`` frames; ``clock`` gives the frames' ``ts``."""

    def __init__(self, client: RedisMux | Redis, *, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock

    async def changed(self, user_id: int, order_id: str, status: str) -> None:
        """Call once the change is committed: ``user_id``'s connections get
        ``{"type":"order_status","order_id":order_id,"status":status,"ts":<now ms>}``."""
        frame = userfeed.order_status(order_id, status, int(self.clock() * 1000))
        try:
            await userfeed.publish(self.client, user_id, frame)
        except RedisError:
            log.warning(
                "order %s: could not publish its status %s", order_id, status, exc_info=True
            )
