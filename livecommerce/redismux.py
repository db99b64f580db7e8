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
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

__all__ = ["RedisMux"]


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
    def for_client(cls, redis: Redis) -> RedisMux:
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
