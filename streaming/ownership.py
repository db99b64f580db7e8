"""Who serves a show's video: its origin lease and its nodes, in Redis.

A show's relay has one **origin**: the node its host publishes to. The origin
holds the lease ``lc:{s:<id>}:origin`` (``SET NX PX``), refreshes it every
second while its publisher exists and deletes it when the publisher stops; a
node that dies stops refreshing and its lease is gone within
``STREAM_ORIGIN_LEASE_MS``. Every node serving the show (origin, **edges**
pulling from an upstream node, nodes whose viewers wait for a host) writes its
entry in ``lc:{s:<id>}:nodes`` every second with an expiry time, so any node can
tell the origin and the edges of a live show, and where to forward a request
for a resource another node holds. Both keys carry the session's hash tag.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from livecommerce import encoding, keys, lua

__all__ = ["NodeEntry", "NodeRef", "Ownership"]

_REFRESH = lua.script(
    "streaming.origin_refresh",
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
""",
)
_RELEASE = lua.script(
    "streaming.origin_release",
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
""",
)


@dataclass(frozen=True)
class NodeRef:
    """A ``livecommerce serve`` process: its ``id`` and the ``url`` other nodes reach it at."""

    id: str
    url: str

    def encode(self) -> bytes:
        return encoding.dumps({"id": self.id, "url": self.url})

    @classmethod
    def decode(cls, raw: bytes | str) -> NodeRef:
        doc = encoding.loads(raw)
        return cls(id=str(doc["id"]), url=str(doc["url"]))


@dataclass(frozen=True)
class NodeEntry:
    """One node serving a show: ``role`` is ``origin``, ``edge`` (pulling from the
    node ``upstream``) or ``waiting`` (viewers, no origin to pull from yet)."""

    node: NodeRef
    role: str
    upstream: str | None
    until_ms: int


def _now_ms() -> int:
    return int(time.time() * 1000)


class Ownership:
    """The origin lease and node registry of every show, as seen by ``node``."""

    def __init__(self, redis: Redis, *, node: NodeRef, lease_ms: int) -> None:
        self.redis = redis
        self.node = node
        self.lease_ms = lease_ms
        self._mine = node.encode()

    async def claim_origin(self, session_id: int) -> NodeRef | None:
        """Take (or keep) the show's origin lease. None when this node holds it now;
        otherwise the node that does."""
        key = keys.session_origin(session_id)
        if await self.redis.set(key, self._mine, nx=True, px=self.lease_ms):
            return None
        current = await self.redis.get(key)
        if current is None:  # expired between the two commands: try once more
            if await self.redis.set(key, self._mine, nx=True, px=self.lease_ms):
                return None
            current = await self.redis.get(key)
            if current is None:
                return None
        if current == self._mine:
            await self.refresh_origin(session_id)
            return None
        return NodeRef.decode(current)

    async def refresh_origin(self, session_id: int) -> bool:
        """Extend this node's lease; False if it is not (or no longer) this node's."""
        key = keys.session_origin(session_id)
        return bool(await _REFRESH.run(self.redis, [key], [self._mine, self.lease_ms]))

    async def release_origin(self, session_id: int) -> None:
        """Give the lease back (only if this node holds it)."""
        await _RELEASE.run(self.redis, [keys.session_origin(session_id)], [self._mine])

    async def origin(self, session_id: int) -> NodeRef | None:
        raw = await self.redis.get(keys.session_origin(session_id))
        return None if raw is None else NodeRef.decode(raw)

    async def register(self, session_id: int, *, role: str, upstream: str | None) -> None:
        """Say that this node serves the show (every second while it does)."""
        entry: dict[str, Any] = {
            "url": self.node.url,
            "role": role,
            "upstream": upstream,
            "until_ms": _now_ms() + self.lease_ms,
        }
        key = keys.session_nodes(session_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, self.node.id, encoding.dumps(entry))
            pipe.pexpire(key, self.lease_ms)
            await pipe.execute()

    async def unregister(self, session_id: int) -> None:
        await self.redis.hdel(keys.session_nodes(session_id), self.node.id)

    async def nodes(self, session_id: int) -> list[NodeEntry]:
        """The live nodes serving the show (a dead node's entry is dropped)."""
        key = keys.session_nodes(session_id)
        raw = await self.redis.hgetall(key)
        now = _now_ms()
        live, dead = [], []
        for node_id, value in raw.items():
            doc = encoding.loads(value)
            name = node_id.decode() if isinstance(node_id, bytes) else str(node_id)
            if int(doc["until_ms"]) < now:
                dead.append(name)
                continue
            live.append(
                NodeEntry(
                    node=NodeRef(id=name, url=str(doc["url"])),
                    role=str(doc["role"]),
                    upstream=doc.get("upstream"),
                    until_ms=int(doc["until_ms"]),
                )
            )
        if dead:
            await self.redis.hdel(key, *dead)
        return live

    async def url_of(self, session_id: int, node_id: str) -> str | None:
        """Where to reach ``node_id`` about this show (origin lease or registry)."""
        origin = await self.origin(session_id)
        if origin is not None and origin.id == node_id:
            return origin.url
        entries = await self.nodes(session_id)
        return next((e.node.url for e in entries if e.node.id == node_id), None)

    async def pick_upstream(self, session_id: int, origin: NodeRef, *, max_edges: int) -> NodeRef:
        """Where a new edge of the show pulls from: the origin while fewer than
        ``max_edges`` edges pull from it, else the first-level edge with the fewest
        edges under it (a tree of depth 2: ``max_edges`` × ``max_edges`` edges)."""
        entries = [e for e in await self.nodes(session_id) if e.node.id != self.node.id]
        first_level = [e for e in entries if e.role == "edge" and e.upstream == origin.id]
        if len(first_level) < max_edges:
            return origin
        children = {e.node.id: 0 for e in first_level}
        for e in entries:
            if e.role == "edge" and e.upstream in children:
                children[e.upstream] += 1
        best = min(first_level, key=lambda e: (children[e.node.id], e.node.id))
        return best.node
