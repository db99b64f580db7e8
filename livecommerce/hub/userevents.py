"""This process's signed-in users' own frames (``order_status``), from their channels.

Each user has a sharded pub/sub channel, ``lc:{u:<id>}:feed``
(:mod:`livecommerce.userfeed` publishes there). A hub process subscribes to the channel
of a user while at least one of the user's connections here is signed in as that user,
and only then: :meth:`UserEvents.follow` when a connection signs in (the first one of
the user subscribes, and returns once Redis has confirmed, so the ``auth`` ack or the
``hello`` tells the client its frames flow from now on), :meth:`UserEvents.unfollow`
when it closes or signs in as someone else (the last one unsubscribes). A message is
the frame's JSON text as published: it is wrapped in one ASGI message and pushed on
each of the user's local outboxes, so a slow connection only fills its own bounded
queue (and is cut off by it), never holds up the reader.

One :class:`_Shard` per Redis server that carries subscriptions: a pub/sub connection,
its reader task and its subscription task. All SSUBSCRIBE/SUNSUBSCRIBE of a shard go out
from that one task, in order, each deciding from what is wanted when it runs, so a user
who leaves and comes back at once stays subscribed. On one server there is one shard; on
a Redis Cluster a channel is subscribed on the master that owns its slot (the cluster
client's slot map), so there is one shard per master that has users of this process.
When the cluster moves a slot (the server ends the subscription with a ``sunsubscribe``)
or a master's connection fails, the channels concerned are looked up again in a fresh
slot map and subscribed on their new owner. Frames published meanwhile are lost, as any
published while a client is away (at most once; clients refetch on reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from livecommerce import keys
from livecommerce.errors import Unavailable
from livecommerce.hub.outbox import Outbox, send_message

__all__ = ["UserEvents"]

log = logging.getLogger("livecommerce.hub")


class _SerialConnect(AbstractConnection):
    """A connection (re)made by one task at a time. A shard's reader and subscriber
    share one pub/sub connection, and when it is lost both reconnect it (redis-py's
    retry): unguarded, both would open a socket and the second would replace the first
    without closing it, an open socket left to the garbage collector."""

    _connect_lock: asyncio.Lock | None = None
    _connect_owner: asyncio.Task[Any] | None = None

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        task = asyncio.current_task()
        if self._connect_owner is task:  # its on-connect resubscription reconnecting
            await super().connect_check_health(check_health, retry_socket_connect)
            return
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:  # then connected already: returns at once
            self._connect_owner = task
            try:
                await super().connect_check_health(check_health, retry_socket_connect)
            finally:
                self._connect_owner = None


def _pubsub_pool(connection_class: type[AbstractConnection], **kwargs: Any) -> ConnectionPool:
    """A pool of its own for one shard, whose connections reconnect one task at a time."""
    serial = type(f"Serial{connection_class.__name__}", (_SerialConnect, connection_class), {})
    return ConnectionPool(connection_class=serial, **kwargs)


class _PubSub(PubSub):
    """redis-py's pub/sub connection, subscribing again after a reconnection the way the
    shard wants: only what it holds subscribed, one channel per SSUBSCRIBE (a cluster
    refuses the channels of several slots in one)."""

    def __init__(self, shard: _Shard, pool: ConnectionPool) -> None:
        super().__init__(connection_pool=pool)
        self.shard = shard

    async def on_connect(self, connection: Any) -> None:
        self.pending_unsubscribe_shard_channels.clear()
        channels = [c for c in self.shard_channels if c in self.shard.subscribed]
        self.shard_channels = dict.fromkeys(channels)
        self.shard.resubscribing(channels)
        for channel in channels:
            await self.ssubscribe(channel)


class _Shard:
    """One pub/sub connection: the channels subscribed on it, and its two tasks."""

    def __init__(self, owner: UserEvents, name: str, pool: ConnectionPool) -> None:
        self.owner = owner
        #: The node (``host:port``) on a cluster; ``""`` on one server.
        self.name = name
        self.pool = pool
        self.pubsub = _PubSub(self, pool)
        #: Channels whose SSUBSCRIBE has been sent (and no SUNSUBSCRIBE since).
        self.subscribed: set[bytes] = set()
        #: Channels whose SSUBSCRIBE Redis has not confirmed yet → who waits for it.
        self.confirming: dict[bytes, asyncio.Future[None]] = {}
        #: SSUBSCRIBEs sent and not yet confirmed, by channel: a confirmation counts only
        #: once the last one is in (an older one may answer after a SUNSUBSCRIBE).
        self._unconfirmed: dict[bytes, int] = {}
        #: SUNSUBSCRIBEs sent and not yet answered, by channel: an answer beyond these is
        #: the server's own (the cluster moved the channel's slot).
        self._unsubscribing: dict[bytes, int] = {}
        self._dirty: dict[bytes, None] = {}
        self._changed = asyncio.Event()
        #: Set once the connection is made (the reader makes it, retrying).
        self._connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._read(), name="hub-user-events-reader"),
            asyncio.create_task(self._subscribe(), name="hub-user-events-subscriber"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in list(self.confirming):
            self.fail(channel, Unavailable("the hub is stopping"))
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.pool.disconnect()

    def resubscribing(self, channels: list[bytes]) -> None:
        """The connection was made again and ``channels`` are being subscribed anew: only
        their new answers count (those of the lost connection never come)."""
        self._unconfirmed = dict.fromkeys(channels, 1)
        self._unsubscribing = {}
        for channel in list(self.confirming):
            if channel not in self._unconfirmed:  # its SSUBSCRIBE was lost: send it again
                self.subscribed.discard(channel)
                self._dirty[channel] = None
                self._changed.set()

    def wanted_changed(self, channel: bytes) -> asyncio.Future[None] | None:
        """Note that ``channel`` is now wanted here or not; returns the confirmation to
        wait for when it is wanted and its subscription is not confirmed yet."""
        self._dirty[channel] = None
        self._changed.set()
        if not self.owner.wants(channel, self):
            return None
        future = self.confirming.get(channel)
        if future is None and channel not in self.subscribed:
            future = asyncio.get_running_loop().create_future()
            self.confirming[channel] = future
        return future

    def fail(self, channel: bytes, error: Exception) -> None:
        """Tell whoever waits for ``channel``'s confirmation that it is not coming."""
        future = self.confirming.pop(channel, None)
        if future is not None and not future.done():
            future.set_exception(error)
            future.exception()  # retrieved: waiters re-raise it

    def _confirmed(self, channel: bytes) -> bool:
        """Count one SSUBSCRIBE answered; True when none is outstanding any more."""
        _count_down(self._unconfirmed, channel)
        return channel not in self._unconfirmed

    def forget(self, channel: bytes) -> None:
        """The server ended ``channel``'s subscription (its slot moved): no longer ours."""
        self.subscribed.discard(channel)
        self.pubsub.shard_channels.pop(channel, None)  # redis-py must not resubscribe it

    async def _subscribe(self) -> None:
        await self._connected.wait()
        while True:
            await self._changed.wait()
            self._changed.clear()
            while self._dirty:
                channel = next(iter(self._dirty))
                del self._dirty[channel]
                try:
                    await self._apply(channel)
                except RedisError as exc:
                    log.warning("hub user events: subscribing on %r failed: %s", self.name, exc)
                    self.fail(channel, Unavailable(UNAVAILABLE))
                    self.owner.shard_failed(self)

    async def _apply(self, channel: bytes) -> None:
        wanted = self.owner.wants(channel, self)
        if wanted and channel not in self.subscribed:
            self.subscribed.add(channel)
            self._unconfirmed[channel] = self._unconfirmed.get(channel, 0) + 1
            try:
                await self.pubsub.ssubscribe(channel)
            except BaseException:
                self.subscribed.discard(channel)
                self._confirmed(channel)
                raise
        elif not wanted:
            self.fail(channel, Unavailable(UNAVAILABLE))  # nobody waits any more
            if channel in self.subscribed:
                self.subscribed.discard(channel)
                self._unsubscribing[channel] = self._unsubscribing.get(channel, 0) + 1
                await self.pubsub.sunsubscribe(channel)
            self.owner.unrouted(channel, self)

    async def _read(self) -> None:
        """Connect, then read until cancelled; redis-py reconnects after errors (and
        :class:`_PubSub` subscribes again)."""
        while not self._connected.is_set():
            try:
                await self.pubsub.connect()  # type: ignore[no-untyped-call]  # redis-py: untyped
                self._connected.set()
            except RedisError as exc:
                log.warning("hub user events: connecting to %r: %s; retrying", self.name, exc)
                await asyncio.sleep(0.5)
        while True:
            try:
                message = await self.pubsub.get_message(timeout=None)
            except RedisError as exc:
                log.warning("hub user events reader on %r: %s; retrying", self.name, exc)
                self.owner.shard_failed(self)
                await asyncio.sleep(0.2)
                continue
            if message is None:
                continue
            kind = message["type"]  # a str, whatever the client decodes
            channel = message["channel"]
            if kind == "smessage":
                self.owner.deliver(channel, message["data"])
            elif kind == "ssubscribe":
                if self._confirmed(channel) and channel in self.subscribed:
                    future = self.confirming.pop(channel, None)
                    if future is not None and not future.done():
                        future.set_result(None)
            elif kind == "sunsubscribe" and not _count_down(self._unsubscribing, channel):
                # Not the answer to one of ours: the cluster moved the channel's slot.
                self.forget(channel)
                self.owner.moved(channel, self)


UNAVAILABLE = "the live service is briefly unavailable; retry shortly"


class UserEvents:
    """Who is signed in on this process, by user, and the subscriptions that follow them.

    Call :meth:`start` before use and :meth:`stop` at shutdown.
    """

    def __init__(self, redis: Redis, *, confirm_timeout_s: float = 10.0) -> None:
        self.redis = redis
        self.confirm_timeout_s = confirm_timeout_s
        found: object = redis
        self._cluster = found if isinstance(found, RedisCluster) else None
        #: Channel → the outboxes of the connections signed in as its user.
        self._outboxes: dict[bytes, set[Outbox]] = {}
        #: Channel → the shard it is (to be) subscribed on, while wanted or subscribed.
        self._route: dict[bytes, _Shard] = {}
        self._shards: dict[str, _Shard] = {}
        self._rerouting: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        if self._cluster is None:
            pool = self.redis.connection_pool
            self._shard("", _pubsub_pool(pool.connection_class, **pool.connection_kwargs))

    async def stop(self) -> None:
        self._stopping = True
        if self._rerouting is not None:
            self._rerouting.cancel()
            await asyncio.gather(self._rerouting, return_exceptions=True)
        for shard in list(self._shards.values()):
            await shard.stop()

    @property
    def users(self) -> int:
        """Users with a signed-in connection on this process."""
        return len(self._outboxes)

    async def follow(self, user_id: int, outbox: Outbox) -> None:
        """Push ``user_id``'s frames on ``outbox`` from the moment this returns. Raises
        :class:`~livecommerce.errors.Unavailable` (and follows nothing) when Redis does
        not confirm the subscription in time."""
        channel = keys.user_feed(user_id).encode()
        try:
            async with asyncio.timeout(self.confirm_timeout_s):
                self._outboxes.setdefault(channel, set()).add(outbox)
                shard = self._route.get(channel)
                if shard is None:
                    shard = self._route[channel] = await self._owner_of(channel)
                future = shard.wanted_changed(channel)
                if future is not None:
                    await asyncio.shield(future)
        except TimeoutError as exc:
            self.unfollow(user_id, outbox)
            raise Unavailable(UNAVAILABLE) from exc
        except RedisError as exc:
            self.unfollow(user_id, outbox)
            raise Unavailable(UNAVAILABLE) from exc
        except BaseException:
            self.unfollow(user_id, outbox)
            raise

    def unfollow(self, user_id: int, outbox: Outbox) -> None:
        """Stop pushing ``user_id``'s frames on ``outbox`` (no-op if it did not follow)."""
        channel = keys.user_feed(user_id).encode()
        outboxes = self._outboxes.get(channel)
        if outboxes is None or outbox not in outboxes:
            return
        outboxes.discard(outbox)
        if not outboxes:
            del self._outboxes[channel]
            shard = self._route.get(channel)
            if shard is not None:
                shard.wanted_changed(channel)  # its task unsubscribes, then unroutes

    def unrouted(self, channel: bytes, shard: _Shard) -> None:
        """``shard`` has let ``channel`` go: forget the route unless it is wanted again."""
        if channel not in self._outboxes and self._route.get(channel) is shard:
            del self._route[channel]

    def wants(self, channel: bytes, shard: _Shard) -> bool:
        """Whether a local connection wants ``channel``'s frames through ``shard``."""
        return channel in self._outboxes and self._route.get(channel) is shard

    def deliver(self, channel: bytes, data: bytes) -> None:
        outboxes = self._outboxes.get(channel)
        if not outboxes:
            return  # the last connection closed while the message was on its way
        message = send_message(data.decode())
        for outbox in list(outboxes):
            outbox.push_message(message)

    # -- where a channel lives ---------------------------------------------------

    async def _owner_of(self, channel: bytes) -> _Shard:
        cluster = self._cluster
        if cluster is None:
            return self._shards[""]
        await cluster.initialize()  # once: it learns the slot map
        node = cluster.get_node_from_key(channel.decode())
        if node is None:  # pragma: no cover - get_node_from_key raises instead
            raise Unavailable(UNAVAILABLE)
        shard = self._shards.get(node.name)
        if shard is None:
            pool = _pubsub_pool(node.connection_class, **node.connection_kwargs)
            shard = self._shard(node.name, pool)
        return shard

    def _shard(self, name: str, pool: ConnectionPool) -> _Shard:
        shard = self._shards[name] = _Shard(self, name, pool)
        shard.start()
        return shard

    def moved(self, channel: bytes, shard: _Shard) -> None:
        """``channel``'s subscription on ``shard`` has ended: subscribe it where it is now."""
        if self._route.get(channel) is shard:
            del self._route[channel]
        self._reroute()

    def shard_failed(self, shard: _Shard) -> None:
        """``shard``'s server did not answer: on a cluster, its slots may have a new master."""
        if self._cluster is not None:
            self._reroute()

    def _reroute(self) -> None:
        if self._stopping or (self._rerouting is not None and not self._rerouting.done()):
            return
        self._rerouting = asyncio.create_task(self._rerouted(), name="hub-user-events-reroute")

    async def _rerouted(self) -> None:
        """Refresh the slot map; move every wanted channel whose owner changed."""
        cluster = self._cluster
        while cluster is not None and not self._stopping:
            try:
                await cluster.nodes_manager.initialize()
                for channel in list(self._outboxes):
                    old = self._route.get(channel)
                    new = await self._owner_of(channel)
                    if old is new:
                        continue
                    self._route[channel] = new
                    waiting = None
                    if old is not None:
                        old.forget(channel)
                        waiting = old.confirming.pop(channel, None)
                        old.wanted_changed(channel)
                    confirmed = new.wanted_changed(channel)
                    if waiting is not None:  # a follow() waits for it: hand it over
                        _chain(confirmed, waiting)
                return
            except RedisError as exc:
                log.warning("hub user events: cluster slot map: %s; retrying", exc)
                await asyncio.sleep(0.5)


def _chain(source: asyncio.Future[None] | None, target: asyncio.Future[None]) -> None:
    """Complete ``target`` as ``source`` completes (at once when there is none)."""

    def done(future: asyncio.Future[None] | None) -> None:
        if target.done():
            return
        error = None if future is None or future.cancelled() else future.exception()
        if error is not None:
            target.set_exception(error)
            target.exception()
        else:
            target.set_result(None)

    if source is None:
        done(None)
    else:
        source.add_done_callback(done)


def _count_down(counts: dict[bytes, int], channel: bytes) -> bool:
    """Take one from ``channel``'s count; False if it had none."""
    left = counts.get(channel, 0)
    if left <= 0:
        return False
    if left == 1:
        del counts[channel]
    else:
        counts[channel] = left - 1
    return True
