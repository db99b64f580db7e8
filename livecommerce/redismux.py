"""Many coroutines' Redis commands over one connection, pipelined automatically.

redis-py's asyncio client takes a connection from its pool for every command,
packs it in Python and writes it with its own system call; in a flash sale that
was half of a checkout's CPU (py-spy: ``Redis.execute_command`` 50% of request
time, one ``write`` per command). :class:`RedisMux` keeps one connection and
queues each command's packed bytes (hiredis packs them in C); everything queued in
the same event-loop iteration goes out in ONE write, and the replies, which Redis
sends back in order, are parsed by hiredis and handed to the waiting futures in
that order.

Only for short commands whose reply comes at once (GET/SET/EVALSHA ...; Lua
scripts run through :mod:`livecommerce.lua`): a blocking
command (``XREAD BLOCK``, ``BLPOP``) or a subscription would hold up every command
behind it, so those stay on the redis-py client. Errors are redis-py's
(``ResponseError``, ``NoScriptError``, ``ConnectionError``), so callers handle
both clients alike. A lost connection fails the commands in flight with
``ConnectionError`` and the next command reconnects.

On a Redis/Valkey Cluster (``REDIS_URL=redis+cluster://…``, see
:mod:`livecommerce.redisclient`) :meth:`RedisMux.for_client` returns a
:class:`ClusterMux`: one such pipelined connection per master, each command sent to
the master of its key's slot (the cluster client's slot map), so the commands of one
event-loop iteration go out in one write per master. ``SCRIPT LOAD`` goes to every
master (a ``NOSCRIPT`` reload then covers the node that lacked it); ``MOVED``
refreshes the slot map and retries; ``ASK`` is followed once.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from livecommerce.redisclient import cluster_of

__all__ = ["ClusterMux", "RedisMux"]


class _Protocol(asyncio.Protocol):
    def __init__(self, mux: RedisMux) -> None:
        self.mux = mux
        self.reader = hiredis.Reader()

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        pending = self.mux._pending
        while True:
            reply = self.reader.gets()
            if reply is False:
                return
            if not pending:  # a reply nobody asked for: the stream is out of step
                self.mux._lost(self, RedisConnectionError("unexpected reply from Redis"))
                return
            future = pending.popleft()
            if future.done():  # its caller was cancelled; the reply is dropped
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(_error(str(reply)))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.mux._lost(self, exc)


def _error(message: str) -> ResponseError:
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


class RedisMux:
    """Build with :meth:`for_client` (same server and database as a redis-py client);
    it connects on first use. Call :meth:`aclose` when done."""

    def __init__(
        self,
        *,
        path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 6379,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.path = path
        self.host = host
        self.port = port
        self.db = db
        self.username = username
        self.password = password
        self._transport: asyncio.Transport | None = None
        self._protocol: _Protocol | None = None
        self._pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._outgoing: list[bytes] = []
        self._connecting: asyncio.Future[None] | None = None
        self._closed = False

    @classmethod
    def for_client(cls, redis: Redis | RedisCluster) -> RedisMux:
        """A mux on the server (or, for a cluster client, the masters) ``redis`` uses."""
        cluster = cluster_of(redis)
        if cluster is not None:
            return ClusterMux(cluster)
        assert isinstance(redis, Redis)
        kw = redis.connection_pool.connection_kwargs
        return cls(
            path=kw.get("path"),
            host=kw.get("host", "127.0.0.1"),
            port=int(kw.get("port", 6379)),
            db=int(kw.get("db", 0) or 0),
            username=kw.get("username"),
            password=kw.get("password"),
        )

    async def execute(self, *args: Any) -> Any:
        """Send one command; returns its reply (bytes, int, list or None)."""
        if self._transport is None:
            await self._connect()
        return await self._send(args)

    def _send(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._outgoing:
            loop.call_soon(self._flush)
        self._outgoing.append(hiredis.pack_command(args))
        self._pending.append(future)
        return future

    def _flush(self) -> None:
        data, self._outgoing = b"".join(self._outgoing), []
        if self._transport is not None and data:
            self._transport.write(data)

    async def _connect(self) -> None:
        if self._closed:
            raise RedisConnectionError("this Redis connection was closed")
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        connecting = self._connecting
        try:
            await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        protocol = _Protocol(self)
        try:
            if self.path:
                transport, _ = await loop.create_unix_connection(lambda: protocol, self.path)
            else:
                transport, _ = await loop.create_connection(lambda: protocol, self.host, self.port)
        except OSError as exc:
            raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
        if self._closed:  # aclose() ran while this connection was being made
            transport.close()
            raise RedisConnectionError("this Redis connection was closed")
        self._transport = transport
        self._protocol = protocol
        setup: list[asyncio.Future[Any]] = []
        if self.password:
            auth = (self.username, self.password) if self.username else (self.password,)
            setup.append(self._send(("AUTH", *auth)))
        if self.db:
            setup.append(self._send(("SELECT", self.db)))
        try:
            for step in setup:
                await step
        except ResponseError as exc:
            # e.g. a wrong password: drop the connection rather than keep a useless one
            self._lost(protocol, exc)
            transport.close()
            raise RedisConnectionError(f"Redis refused the connection set-up: {exc}") from exc

    def _lost(self, protocol: _Protocol, exc: Exception | None) -> None:
        if protocol is not self._protocol:
            return
        if self._transport is not None:
            # After an unexpected reply the socket is still open: close it, or it leaks
            # (and keeps answering) once forgotten. After connection_lost this is a no-op.
            self._transport.close()
        self._transport = None
        self._protocol = None
        self._outgoing = []
        pending, self._pending = self._pending, collections.deque()
        error = RedisConnectionError(f"Redis connection lost: {exc or 'closed by server'}")
        for future in pending:
            if not future.done():
                future.set_exception(error)

    async def aclose(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()


#: Commands the mux may be given that take no key: sent to any one master.
_KEYLESS = frozenset({"PING", "ECHO", "CLIENT", "INFO", "TIME"})
#: Redirections and retries one command may go through before its error is raised.
_ATTEMPTS = 5
#: How long aclose() waits for a slot-map refresh in flight to end.
_REFRESH_CLOSE_S = 5.0


class ClusterMux(RedisMux):
    """:class:`RedisMux` over a cluster: a pipelined connection per master (built from
    the cluster client's address and credentials), each command routed by its key.

    A command's key is its first argument (``GET k``, ``SET k v``, ``DEL k``), or for
    ``EVAL``/``EVALSHA`` its first key (a script's keys must share one slot:
    :mod:`livecommerce.lua` checks); the commands in ``_KEYLESS`` go to one master and
    ``SCRIPT`` to all of them."""

    def __init__(self, cluster: RedisCluster) -> None:
        super().__init__()
        self.cluster = cluster
        self._masters: dict[tuple[str, int], RedisMux] = {}
        self._refreshing: asyncio.Task[None] | None = None

    async def execute(self, *args: Any) -> Any:
        if self._closed:
            raise RedisConnectionError("this Redis connection was closed")
        if not self.cluster.get_primaries():
            await self.cluster.initialize()  # once: the slot map
        name = _name(args[0])
        if name == "SCRIPT":
            nodes = self.cluster.get_primaries()
            replies = await asyncio.gather(
                *(self._master(n.host, int(n.port)).execute(*args) for n in nodes)
            )
            return replies[0]
        key = None if name in _KEYLESS else _routing_key(name, args)
        asking: tuple[str, int] | None = None
        for attempt in range(_ATTEMPTS):
            if asking is not None:
                target = self._master(*asking)
                asking = None
                if target._transport is None:
                    await target._connect()
                # ASKING and the command queued together: one write, in order, on one
                # connection (ASKING holds for the next command of that connection only)
                ask = target._send(("ASKING",))
                reply = target._send(args)
                try:
                    await ask
                    return await reply
                except ResponseError as exc:
                    error = exc
                finally:
                    reply.cancel()  # not awaited when ASKING failed: its reply is dropped
            else:
                node = (
                    self.cluster.get_primaries()[0]
                    if key is None
                    else self.cluster.get_node_from_key(key)
                )
                assert node is not None
                try:
                    return await self._master(node.host, int(node.port)).execute(*args)
                except ResponseError as exc:
                    error = exc
                except RedisConnectionError:
                    # The master may be gone (a failover): the next command asks the new map.
                    self._refresh_soon()
                    raise
            message = str(error)
            if message.startswith("MOVED"):
                await self.cluster.nodes_manager.initialize()  # a resharded slot: new map
            elif message.startswith("ASK"):
                host, port = message.split()[2].rsplit(":", 1)
                asking = (host, int(port))
            elif message.startswith(("TRYAGAIN", "CLUSTERDOWN")):
                await asyncio.sleep(0.05 * (attempt + 1))
            else:
                raise error
        raise error

    def _refresh_soon(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        try:
            await self.cluster.nodes_manager.initialize()
        except Exception:  # noqa: BLE001 - no map now: the next lost command tries again
            pass

    def _master(self, host: str, port: int) -> RedisMux:
        found = self._masters.get((host, port))
        if found is None:
            kw = self.cluster.get_connection_kwargs()
            found = self._masters[(host, port)] = RedisMux(
                host=host, port=port, username=kw.get("username"), password=kw.get("password")
            )
        return found

    async def aclose(self) -> None:
        self._closed = True
        refreshing, self._refreshing = self._refreshing, None
        if refreshing is not None and not refreshing.done():
            # Wait for it, not only cancel it: redis-py's initialize() can swallow the
            # cancellation and go on to its next startup node, opening a connection after
            # the cluster client (closed after us) has closed its own: a leaked socket.
            refreshing.cancel()
            await asyncio.wait({refreshing}, timeout=_REFRESH_CLOSE_S)
        for mux in self._masters.values():
            await mux.aclose()


def _name(command: Any) -> str:
    return (command.decode() if isinstance(command, bytes) else str(command)).upper()


def _routing_key(name: str, args: tuple[Any, ...]) -> Any:
    if name in ("EVALSHA", "EVAL"):
        if int(args[2]) == 0:
            return None
        return args[3]
    if len(args) < 2:
        raise ValueError(f"{name} has no key to route it by on a cluster")
    return args[1]
