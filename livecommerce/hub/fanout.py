"""The process-wide fan-out: one reader of the session streams, local rooms.

One task per hub process reads the streams of every session that has local
viewers with a single blocking ``XREAD`` on a connection of its own. Each
event is decoded once (to learn its kind) and its stored text is offered to
every local subscriber of the session: the bytes are serialized once, by the
publisher. When a room appears, the blocked read is cut short with ``CLIENT
UNBLOCK`` so the new stream is read at once.

On a Redis Cluster (:mod:`livecommerce.redisclient`) one ``XREAD`` may only name
keys of one hash slot, and each session's stream has a slot of its own (its hash tag
``{s:<id>}``). There the process runs one reader per session with local viewers
instead, each a blocking ``XREAD`` of that one stream on a connection of its own to
the master that owns the stream's slot; it starts with the session's room and ends
with it (a new room needs no wake-up: its reader starts at its position).

A ``user_banned`` event also closes the banned user's local connections to
that session (after the event itself), so a ban reaches every hub process the
way every other event does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from livecommerce import encoding, keys
from livecommerce.hub.protocol import CLOSE_BANNED, CLOSE_RESYNC
from livecommerce.hub.rooms import Event, Frame, Room, Subscriber
from livecommerce.metrics import HubMetrics
from livecommerce.redisclient import cluster_of, master_client

__all__ = ["Fanout", "dedicated_client"]

log = logging.getLogger("livecommerce.hub")


def dedicated_client(redis: Redis, *, socket_timeout: float) -> Redis:
    """A client with one connection of its own, configured like ``redis``
    (a blocking read must not hold a pooled connection others wait for), whose reads
    may block ``socket_timeout`` seconds (redis-py's default would cut a long XREAD)."""
    pool = redis.connection_pool
    kwargs = {**pool.connection_kwargs, "socket_timeout": socket_timeout}
    # from_pool: the client owns its pool, so aclose() also closes the connection (a
    # client given connection_pool= leaves it open past the event loop's end).
    return Redis.from_pool(
        ConnectionPool(connection_class=pool.connection_class, max_connections=1, **kwargs)
    )


class Fanout:
    """Rooms of this process and the task that feeds them. Call :meth:`run` in a task."""

    def __init__(
        self,
        redis: Redis,
        *,
        batch_window_s: float,
        block_ms: int = 2000,
        on_room_change: Callable[[int, int], None] | None = None,
        metrics: HubMetrics | None = None,
    ) -> None:
        self.redis = redis
        self.batch_window_s = batch_window_s
        self.block_ms = block_ms
        self.rooms: dict[int, Room] = {}
        self._by_stream: dict[bytes, Room] = {}
        self._cluster = cluster_of(redis)
        #: Cluster: the reader task of each session with a room (see the module doc).
        self._session_readers: dict[int, asyncio.Task[None]] = {}
        self._reader = (
            dedicated_client(redis, socket_timeout=block_ms / 1000 + 10)
            if self._cluster is None
            else None
        )
        self._reader_id: int | None = None
        self._reading = False
        self._generation = 0
        #: Set after a Redis error: check the rooms' positions before reading on.
        self._stale = False
        self._changed = asyncio.Event()
        self._opening: dict[int, asyncio.Future[Room]] = {}
        #: Called with (session_id, local subscriber count) when it changes.
        self.on_room_change = on_room_change
        self.metrics = metrics

    async def subscribe(self, subscriber: Subscriber) -> Room:
        """Add a (syncing) subscriber to its session's room, opening the room at the
        stream's current end if it is new. The caller then syncs the client and calls
        ``subscriber.start``."""
        session_id = subscriber.session_id
        room = self.rooms.get(session_id)
        if room is None:
            room = await self._open(session_id)
        room.subscribers.add(subscriber)
        if self.on_room_change is not None:
            self.on_room_change(session_id, len(room.subscribers))
        return room

    async def _open(self, session_id: int) -> Room:
        opening = self._opening.get(session_id)
        if opening is not None:
            return await asyncio.shield(opening)
        future: asyncio.Future[Room] = asyncio.get_running_loop().create_future()
        self._opening[session_id] = future
        try:
            raw = await self.redis.get(keys.session_seq(session_id))
            room = Room(session_id, last_seq=int(raw or 0))
            self.rooms[session_id] = room
            self._by_stream[keys.session_events(session_id).encode()] = room
            future.set_result(room)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters re-raise it
            raise
        finally:
            del self._opening[session_id]
        if self._cluster is None:
            await self._wake_reader()
        elif session_id not in self._session_readers:
            self._session_readers[session_id] = asyncio.create_task(
                self._read_session(session_id), name=f"hub-reader-{session_id}"
            )
        return room

    def unsubscribe(self, subscriber: Subscriber) -> None:
        room = self.rooms.get(subscriber.session_id)
        if room is None or subscriber not in room.subscribers:
            return
        room.subscribers.discard(subscriber)
        if self.on_room_change is not None:
            self.on_room_change(room.session_id, len(room.subscribers))
        if not room.subscribers:
            # The reader drops the stream from its next XREAD; a blocked one ends by itself.
            del self.rooms[room.session_id]
            self._by_stream.pop(keys.session_events(room.session_id).encode(), None)

    async def _wake_reader(self) -> None:
        self._changed.set()
        # The XREAD may still be on its way to Redis (UNBLOCK would find nothing to
        # unblock): retry until it is unblocked or has returned by itself.
        generation = self._generation
        while self._reading and self._generation == generation and self._reader_id is not None:
            try:
                if await self.redis.client_unblock(self._reader_id):
                    return
            except RedisError:
                return
            await asyncio.sleep(0.001)

    async def run(self) -> None:
        """Read and fan out until cancelled; reconnects after Redis errors."""
        if self._reader is None:
            await self._run_per_session()
            return
        try:
            while True:
                try:
                    await self._read_forever()
                except RedisError as exc:
                    log.warning("hub stream reader: %s; retrying", exc)
                    self._reader_id = None
                    await asyncio.sleep(0.2)
                    self._stale = True
        finally:
            await self._reader.aclose()

    async def _read_forever(self) -> None:
        assert self._reader is not None
        if self._reader_id is None:
            self._reader_id = int(await self._reader.client_id())
        if self._stale:
            await self._check_positions()
        while True:
            if not self.rooms:
                self._changed.clear()
                await self._changed.wait()
                continue
            self._changed.clear()
            streams = {
                keys.session_events(room.session_id): f"{room.last_seq}-0"
                for room in self.rooms.values()
            }
            self._reading = True
            try:
                reply = await self._reader.xread(streams, block=self.block_ms)  # type: ignore[arg-type]
            finally:
                self._reading = False
                self._generation += 1
            if reply:
                self._deliver_timed(reply)

    def _deliver_timed(self, reply: Any) -> None:
        started = time.perf_counter()
        self._deliver(reply)
        if self.metrics is not None:
            self.metrics.fanout_seconds.observe(time.perf_counter() - started)

    async def _run_per_session(self) -> None:
        """Cluster: the session readers run as tasks of their own; stop them at the end."""
        try:
            await asyncio.get_running_loop().create_future()  # until cancelled
        finally:
            readers = list(self._session_readers.values())
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    async def _read_session(self, session_id: int) -> None:
        """Cluster: read one session's stream while it has a room here, from the master
        that owns its slot; after a Redis error (a node restarting, a slot that moved)
        learn the slot map again, check the room's position and go on."""
        assert self._cluster is not None
        stream = keys.session_events(session_id)
        reader: Redis | None = None
        try:
            while (room := self.rooms.get(session_id)) is not None:
                try:
                    if reader is None:
                        reader = await master_client(
                            self._cluster,
                            stream,
                            socket_timeout=self.block_ms / 1000 + 10,
                            max_connections=1,
                        )
                    reply = await reader.xread({stream: f"{room.last_seq}-0"}, block=self.block_ms)
                except RedisError as exc:
                    log.warning(
                        "hub stream reader of session %s: %s %s; retrying",
                        session_id,
                        type(exc).__name__,
                        exc,
                    )
                    if reader is not None:
                        await reader.aclose()
                        reader = None
                    await asyncio.sleep(0.2)
                    with contextlib.suppress(RedisError):
                        await self._cluster.nodes_manager.initialize()
                        await self._check_position(room)
                    continue
                if reply:
                    self._deliver_timed(reply)
        finally:
            self._session_readers.pop(session_id, None)
            if reader is not None:
                await reader.aclose()

    def _deliver(self, reply: Any) -> None:
        """``reply``: XREAD's ``[(stream, [(entry id, {b"e": event}), ...]), ...]``."""
        for stream, entries in reply:
            room = self._by_stream.get(stream)
            if room is None or not entries:
                continue  # the room closed while we read
            events = []
            banned: list[int] = []
            for entry_id, fields in entries:
                seq = int(entry_id.split(b"-", 1)[0])
                raw = fields[b"e"]
                event = encoding.loads(raw)
                kind = event["type"]
                if kind == "user_banned":
                    banned.append(event["user_id"])
                events.append(Event(seq, kind, raw.decode()))
            if events[0].seq != room.last_seq + 1:
                # Trimmed before we could read (reader stalled): nobody can be served in
                # order any more; the viewers rejoin and get a snapshot.
                log.warning("hub: session %s lost events; resyncing viewers", room.session_id)
                self._resync(room, events[-1].seq)
                continue
            frames, pending = room.ingest(events)
            if frames:
                self._fan_out(room, frames)
            if pending and not room.flush_scheduled:
                room.flush_scheduled = True
                asyncio.get_running_loop().call_later(self.batch_window_s, self._flush, room)
            if banned:
                self._remove_banned(room, banned)

    def _fan_out(self, room: Room, frames: list[Frame]) -> None:
        room.fan_out(frames)
        if self.metrics is not None:
            self.metrics.frames_sent.inc(len(frames) * len(room.subscribers))

    def _flush(self, room: Room) -> None:
        frame = room.flush()
        if frame is not None:
            self._fan_out(room, [frame])

    def _remove_banned(self, room: Room, user_ids: list[int]) -> None:
        """Close the banned users' connections to this session (the ``user_banned``
        event, urgent, has already been offered to them)."""
        for subscriber in list(room.subscribers):
            if subscriber.user_id in user_ids:
                subscriber.outbox.close_after(CLOSE_BANNED, "banned from this show")

    def _resync(self, room: Room, last_seq: int) -> None:
        room.last_seq = last_seq
        room.pending = []
        for subscriber in list(room.subscribers):
            subscriber.outbox.close_after(CLOSE_RESYNC, "events were lost: join again")

    async def _check_positions(self) -> None:
        """After losing Redis: if a session's seq went back (Redis restarted and lost its
        last writes), new events would reuse seqs the viewers already passed; resync them."""
        for room in list(self.rooms.values()):
            await self._check_position(room)
        self._stale = False

    async def _check_position(self, room: Room) -> None:
        seq = int(await self.redis.get(keys.session_seq(room.session_id)) or 0)
        if seq < room.last_seq:
            log.warning("hub: session %s went back to seq %s", room.session_id, seq)
            self._resync(room, seq)
