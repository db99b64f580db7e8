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

One :class:`_Shard` per Redis connection that carries subscriptions: a pub/sub
connection, its reader task and its subscription task. All SSUBSCRIBE/SUNSUBSCRIBE
go out from that one task, in order, each deciding from what is wanted when it runs,
so a user who leaves and comes back at once stays subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from livecommerce import keys
from livecommerce.errors import Unavailable
from livecommerce.hub.outbox import Outbox, send_message

__all__ = ["UserEvents"]

log = logging.getLogger("livecommerce.hub")


class _Shard:
    """One pub/sub connection: the channels subscribed on it, and its two tasks."""

    def __init__(
        self,
        pubsub: PubSub,
        deliver: Callable[[bytes, bytes], None],
        wanted: dict[bytes, set[Outbox]],
    ) -> None:
        self.pubsub = pubsub
        self._deliver = deliver
        #: The channels local connections want (shared with :class:`UserEvents`).
        self._wanted = wanted
        #: Channels whose SSUBSCRIBE has been sent (and no SUNSUBSCRIBE since).
        self.subscribed: set[bytes] = set()
        #: Channels whose SSUBSCRIBE Redis has not confirmed yet → who waits for it.
        self.confirming: dict[bytes, asyncio.Future[None]] = {}
        self._dirty: dict[bytes, None] = {}
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.pubsub.connect()  # type: ignore[no-untyped-call]  # redis-py: untyped
        self._tasks = [
            asyncio.create_task(self._read(), name="hub-user-events-reader"),
            asyncio.create_task(self._subscribe(), name="hub-user-events-subscriber"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for future in self.confirming.values():
            if not future.done():
                future.set_exception(Unavailable("the hub is stopping"))
                future.exception()
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]

    def wanted_changed(self, channel: bytes) -> asyncio.Future[None] | None:
        """Note that ``channel`` is now wanted or not; returns the confirmation to wait for
        when it is wanted and its subscription is not confirmed yet."""
        self._dirty[channel] = None
        self._changed.set()
        if channel not in self._wanted:
            return None
        future = self.confirming.get(channel)
        if future is None and channel not in self.subscribed:
            future = asyncio.get_running_loop().create_future()
            self.confirming[channel] = future
        return future

    async def _subscribe(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            while self._dirty:
                channel = next(iter(self._dirty))
                del self._dirty[channel]
                try:
                    await self._apply(channel)
                except RedisError as exc:
                    log.warning("hub user events: subscribing failed: %s", exc)
                    future = self.confirming.pop(channel, None)
                    if future is not None and not future.done():
                        future.set_exception(
                            Unavailable("the live service is briefly unavailable; retry shortly")
                        )
                        future.exception()

    async def _apply(self, channel: bytes) -> None:
        wanted = channel in self._wanted
        if wanted and channel not in self.subscribed:
            self.subscribed.add(channel)
            try:
                await self.pubsub.ssubscribe(channel)
            except BaseException:
                self.subscribed.discard(channel)
                raise
        elif not wanted and channel in self.subscribed:
            self.subscribed.discard(channel)
            await self.pubsub.sunsubscribe(channel)

    async def _read(self) -> None:
        """Read until cancelled; redis-py reconnects and subscribes again after errors."""
        while True:
            try:
                message = await self.pubsub.get_message(timeout=None)
            except RedisError as exc:
                log.warning("hub user events reader: %s; retrying", exc)
                await asyncio.sleep(0.2)
                continue
            if message is None:
                continue
            kind = message["type"]  # a str, whatever the client decodes
            if kind == "smessage":
                self._deliver(message["channel"], message["data"])
            elif kind == "ssubscribe":
                future = self.confirming.pop(message["channel"], None)
                if future is not None and not future.done():
                    future.set_result(None)


class UserEvents:
    """Who is signed in on this process, by user, and the subscriptions that follow them.

    Call :meth:`start` before use and :meth:`stop` at shutdown.
    """

    def __init__(self, redis: Redis, *, confirm_timeout_s: float = 10.0) -> None:
        self.redis = redis
        self.confirm_timeout_s = confirm_timeout_s
        #: Channel → the outboxes of the connections signed in as its user.
        self._outboxes: dict[bytes, set[Outbox]] = {}
        self._shard = _Shard(redis.pubsub(), self._deliver, self._outboxes)

    async def start(self) -> None:
        await self._shard.start()

    async def stop(self) -> None:
        await self._shard.stop()

    @property
    def users(self) -> int:
        """Users with a signed-in connection on this process."""
        return len(self._outboxes)

    async def follow(self, user_id: int, outbox: Outbox) -> None:
        """Push ``user_id``'s frames on ``outbox`` from the moment this returns. Raises
        :class:`~livecommerce.errors.Unavailable` (and follows nothing) when Redis does
        not confirm the subscription in time."""
        channel = keys.user_feed(user_id).encode()
        outboxes = self._outboxes.setdefault(channel, set())
        outboxes.add(outbox)
        future = self._shard.wanted_changed(channel)
        if future is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(future), self.confirm_timeout_s)
        except (TimeoutError, Unavailable) as exc:
            self.unfollow(user_id, outbox)
            if isinstance(exc, Unavailable):
                raise
            raise Unavailable("the live service is briefly unavailable; retry shortly") from exc
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
            self._shard.wanted_changed(channel)

    def _deliver(self, channel: bytes, data: bytes) -> None:
        outboxes = self._outboxes.get(channel)
        if not outboxes:
            return  # the last connection closed while the message was on its way
        message = send_message(data.decode())
        for outbox in list(outboxes):
            outbox.push_message(message)
