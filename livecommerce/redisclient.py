"""Which redis-py client a ``REDIS_URL`` opens: one server, or a Redis/Valkey Cluster.

``redis://``, ``rediss://`` and ``unix://`` open ``redis.asyncio.Redis`` on one
server. ``redis+cluster://host:port`` (``rediss+cluster://`` with TLS) opens
``redis.asyncio.cluster.RedisCluster``: ``host:port`` is any node of the cluster, from
which the client learns the others and the slot map; it sends each command to the
master of its key's slot and follows ``MOVED``/``ASK``. A cluster has database 0
only, so a cluster URL takes no ``/db`` path.

The rest of the code is written against ``Redis`` (the commands it uses exist on both
clients with the same signatures and replies), so :func:`connect` returns the cluster
client typed as ``Redis``. The few places that need the server's connection itself
(:class:`livecommerce.redismux.RedisMux`, the hub's blocking stream reader) ask
:func:`cluster_of` and route per node. Every multi-key command and Lua script keeps
its keys in one hash slot (``livecommerce.keys``: hash tags; ``livecommerce.lua``
checks each call).
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

__all__ = [
    "CLUSTER_SCHEMES",
    "cluster_of",
    "connect",
    "is_cluster_url",
    "master_client",
    "plain_url",
]

#: URL schemes that select the cluster client, and the scheme each stands for.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in CLUSTER_SCHEMES


def plain_url(url: str) -> str:
    """``url`` with a cluster scheme replaced by the plain one (``redis+cluster://h:p``
    → ``redis://h:p``), as redis-py's ``from_url`` expects; other URLs unchanged."""
    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        return url
    if parts.path not in ("", "/", "/0"):
        raise ValueError(f"a Redis Cluster has database 0 only: {url!r} names {parts.path!r}")
    return urlunsplit((scheme, parts.netloc, "", parts.query, parts.fragment))


def connect(url: str, **options: Any) -> Redis:
    """A redis-py asyncio client for ``url`` (see the module docstring); ``options`` go
    to its constructor (for a cluster, ``max_connections`` is per node)."""
    if is_cluster_url(url):
        return cast(Redis, RedisCluster.from_url(plain_url(url), **options))
    return Redis.from_url(url, **options)


def cluster_of(redis: Redis | RedisCluster) -> RedisCluster | None:
    """The cluster client behind ``redis`` (from :func:`connect`), or ``None`` for one
    server."""
    found: object = redis
    return found if isinstance(found, RedisCluster) else None


async def master_client(cluster: RedisCluster, key: str | bytes, **options: Any) -> Redis:
    """A plain client (one server) on the master that owns ``key``'s slot now, with the
    cluster client's credentials; ``options`` go to ``Redis``. For what must stay on one
    connection of one node: a blocking ``XREAD``, a pub/sub connection (``SSUBSCRIBE`` of
    the channels of that node's slots). After a ``MOVED`` or a lost node, refresh the
    slot map (``await cluster.nodes_manager.initialize()``) and ask again."""
    await cluster.initialize()  # the slot map, once
    node = cluster.get_node_from_key(key)  # type: ignore[arg-type]  # str or bytes
    if node is None:
        raise RuntimeError(f"no master owns the slot of {key!r}")
    kw = cluster.get_connection_kwargs()
    return Redis(
        host=node.host,
        port=int(node.port),
        username=kw.get("username"),
        password=kw.get("password"),
        **options,
    )
