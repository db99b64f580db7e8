"""Frames for one signed-in user's own ``/ws`` connections, whatever they watch.

Any process may publish (the cart, once an order or its new status is committed): one
``SPUBLISH`` of the frame's JSON to the user's channel :func:`livecommerce.keys.user_feed`
(``lc:{u:<id>}:feed``). Sharded pub/sub: in a Redis Cluster the message travels only
within the shard that owns the user's slot, and reaches only the hub processes that
subscribed to the channel because the user has a connection there
(:mod:`livecommerce.hub.userevents`). The JSON is built once, here: the hubs forward
the published bytes unchanged.

Delivery is at most once and nothing is stored: a frame published while nobody
listens is gone. A client that reconnects refetches what the frame is about over HTTP
(``GET /api/orders``).
"""

from __future__ import annotations

from redis.asyncio import Redis

from livecommerce import encoding, keys
from livecommerce.redismux import RedisMux

__all__ = ["order_status", "publish"]


def order_status(order_id: str, status: str, ts_ms: int) -> dict[str, object]:
    """The ``order_status`` frame: ``order_id`` as in ``GET /api/orders``, the order's
    status now, and when it was committed (unix ms)."""
    return {"type": "order_status", "order_id": order_id, "status": status, "ts": ts_ms}


async def publish(client: RedisMux | Redis, user_id: int, frame: dict[str, object]) -> int:
    """Send ``frame`` (must have ``type``) to every connection of ``user_id``, on every
    hub process; returns how many hub processes took it (SPUBLISH's reply)."""
    channel = keys.user_feed(user_id)
    body = encoding.dumps(frame)
    if isinstance(client, RedisMux):
        return int(await client.execute("SPUBLISH", channel, body))
    return int(await client.spublish(channel, body))
