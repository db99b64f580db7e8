"""Replays: an ended show's HLS media, its product chapters and highlight clips.

The HLS packager leaves, for each show that went live, ``sessions/<id>/`` in the
media store: ``init.mp4``, ``seg<msn>.m4s``, ``vod.m3u8`` and ``index.json`` once
the show ended. This component reads that index, the pin history and the show's
orders from SQL, and answers the replay (:meth:`Replays.replay`). Highlight clips
are chosen once, the first time an ended show's replay is asked for, and kept as
``clips.json`` next to its media; the host can delete one. A worker job deletes
the media of shows ended more than ``REPLAY_RETENTION_DAYS`` ago; deleting a show
(``DELETE /api/sessions/{id}``) deletes its media at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select

from livecommerce import encoding, keys
from livecommerce.auth.permissions import Principal, session_rights
from livecommerce.catalog.cards import ProductCard, ProductCards
from livecommerce.components import Component, Job
from livecommerce.db.models import LiveSession, Order, OrderItem, OrderStatus, Pin, SessionStatus
from livecommerce.errors import Conflict, NotFound
from livecommerce.events import SessionStateChanged
from livecommerce.pinstate import parse_pin
from livecommerce.replay.schemas import ChapterOut, ClipOut, ReplayOut
from livecommerce.replay.timeline import (
    Buy,
    Clip,
    Index,
    PinSpan,
    Tap,
    chapters,
    clip_playlist,
    pick_clips,
)
from livecommerce.services import Services

__all__ = ["MediaFiles", "Replays"]

log = logging.getLogger("livecommerce.replay")

#: How often the worker looks for replays past their retention.
SWEEP_INTERVAL_S = 3600.0
#: How long a show's card taps are kept after the last one (clips are made at its end).
TAPS_TTL_S = 7 * 86400


class MediaFiles(Protocol):
    """What replays need of the media store (``streaming.hls.store.MediaStore``)."""

    def read(self, path: str) -> bytes | None: ...

    def write(self, path: str, data: bytes) -> None: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def list(self, prefix: str) -> list[str]: ...


def _prefix(session_id: int) -> str:
    return f"sessions/{session_id}/"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def hls_base(session_id: int) -> str:
    """Where the show's media files are served (``GET /hls/{id}/{file}``)."""
    return f"/hls/{session_id}/"


class Replays(Component):
    def __init__(self, services: Services, media: MediaFiles) -> None:
        self.services = services
        self.media = media
        self.cards = ProductCards(
            services.db,
            ttl_s=services.settings.card_ttl_s,
            max_entries=services.settings.cache_max_entries,
        )
        #: Choosing a show's clips and changing them, one at a time in this process
        #: (reads take no lock).
        self._clips_lock = asyncio.Lock()

    def jobs(self) -> list[Job]:
        return [self._sweep_forever]

    async def start(self) -> None:
        self.services.events.subscribe(SessionStateChanged, self._on_session_state)

    async def _on_session_state(self, event: SessionStateChanged) -> None:
        # A deleted show's media goes with it (published after the SQL commit, so the
        # DELETE answers once the files are gone).
        if event.status == SessionStatus.DELETED:
            await self.delete_media(event.session_id)

    # --- reading ---------------------------------------------------------------

    async def _read_json(self, path: str) -> Any:
        raw = await asyncio.to_thread(self.media.read, path)
        return None if raw is None else encoding.loads(raw)

    async def index(self, session_id: int) -> Index:
        """The ended show's index (404 ``no_replay`` when it has no media)."""
        doc = await self._read_json(_prefix(session_id) + "index.json")
        if doc is None:
            raise NotFound(
                f"live session {session_id} has no replay (it never went live, has not "
                "ended, or its media was deleted)",
                code="no_replay",
            )
        try:
            index = Index.parse(doc)
        except ValueError as exc:
            raise NotFound(
                f"live session {session_id} has no usable replay", code="no_replay"
            ) from exc
        if not index.segments:
            raise NotFound(f"live session {session_id} has no replay media", code="no_replay")
        return index

    async def has_replay(self, session_id: int) -> bool:
        """Whether the show has a replay to play: what :meth:`index` finds (the creator's
        page lists such shows)."""
        try:
            await self.index(session_id)
        except NotFound:
            return False
        return True

    async def _show(self, session_id: int) -> LiveSession:
        async with self.services.db.sessions() as db:
            show = await db.get(LiveSession, session_id)
        if show is None or show.status == SessionStatus.DELETED:
            raise NotFound(f"live session {session_id} does not exist")
        return show

    async def _pins(self, session_id: int) -> list[PinSpan]:
        async with self.services.db.sessions() as db:
            rows = await db.scalars(
                select(Pin).where(Pin.session_id == session_id).order_by(Pin.id)
            )
            return [
                PinSpan(
                    r.product_id,
                    _ms(r.pinned_at),
                    None if r.unpinned_at is None else _ms(r.unpinned_at),
                )
                for r in rows
            ]

    async def _buys(self, session_id: int) -> list[Buy]:
        async with self.services.db.sessions() as db:
            rows = await db.execute(
                select(Order.created_at, OrderItem.product_id, OrderItem.quantity)
                .join(OrderItem, OrderItem.order_id == Order.id)
                .where(
                    Order.session_id == session_id,
                    Order.status.in_([OrderStatus.PAID, OrderStatus.FULFILLED]),
                )
            )
            return [Buy(_ms(at), int(pid), int(qty)) for at, pid, qty in rows]

    async def record_tap(self, session_id: int, product_id: int) -> None:
        """Count a tap on the card of the product pinned now (409 ``not_pinned`` for any
        other product, or when nothing is pinned: the show is not live)."""
        redis = self.services.redis
        pin = parse_pin(await redis.get(keys.session_pin(session_id)))
        if pin is None or pin.product_id != product_id:
            raise Conflict(
                f"product {product_id} is not pinned in this show now", code="not_pinned"
            )
        second = int(self.services.clock())
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(keys.session_taps(session_id), f"{product_id}:{second}", 1)
            pipe.expire(keys.session_taps(session_id), TAPS_TTL_S)
            await pipe.execute()

    async def _taps(self, session_id: int) -> list[Tap]:
        found = await self.services.redis.hgetall(keys.session_taps(session_id))
        taps = []
        for field, count in found.items():
            name = field.decode() if isinstance(field, bytes) else str(field)
            product, _, second = name.partition(":")
            taps.append(Tap(int(second) * 1000, int(product), int(count)))
        return taps

    async def clips(self, session_id: int, index: Index) -> list[Clip]:
        """The show's clips: chosen from its buys the first time, then as kept."""
        path = _prefix(session_id) + "clips.json"
        doc = await self._read_json(path)
        if doc is None:
            async with self._clips_lock:
                doc = await self._read_json(path)
                if doc is None:
                    count = self.services.settings.replay_clips
                    buys, taps = await self._buys(session_id), await self._taps(session_id)
                    chosen = pick_clips(buys, index, count, taps)
                    doc = {"clips": [c.document() for c in chosen]}
                    await asyncio.to_thread(self.media.write, path, encoding.dumps(doc))
        return [Clip.parse(c) for c in doc["clips"]]

    async def _card(self, product_id: int) -> ProductCard | None:
        try:
            return await self.cards.get(product_id)
        except NotFound:
            return None

    async def replay(self, session_id: int) -> ReplayOut:
        """The replay of an ended show (404 ``no_replay`` if it has no media)."""
        show = await self._show(session_id)
        index = await self.index(session_id)
        ended_ms = None if show.ended_at is None else _ms(show.ended_at)
        spans = chapters(await self._pins(session_id), index, ended_ms=ended_ms)
        clips = await self.clips(session_id, index) if show.status == SessionStatus.ENDED else []
        cards: dict[int, ProductCard | None] = {}
        for pid in [c.product_id for c in spans] + [c.product_id for c in clips]:
            if pid not in cards:
                cards[pid] = await self._card(pid)

        def name(pid: int) -> str:
            card = cards.get(pid)
            return "" if card is None else card.name

        def image(pid: int) -> str | None:
            card = cards.get(pid)
            return card.images[0] if card is not None and card.images else None

        return ReplayOut(
            session_id=session_id,
            title=show.title,
            host_id=show.host_id,
            playlist_url=hls_base(session_id) + "vod.m3u8",
            duration_ms=index.duration_ms,
            stream_start_ms=index.stream_start_ms,
            chapters=[
                ChapterOut(
                    product_id=c.product_id,
                    name=name(c.product_id),
                    image=image(c.product_id),
                    start_ms=c.start_ms,
                    end_ms=c.end_ms,
                )
                for c in spans
            ],
            clips=[
                ClipOut(
                    id=c.id,
                    product_id=c.product_id,
                    name=name(c.product_id),
                    image=image(c.product_id),
                    buys=c.buys,
                    taps=c.taps,
                    start_ms=c.start_ms,
                    end_ms=c.end_ms,
                    playlist_url=f"/api/sessions/{session_id}/clips/{c.id}/playlist.m3u8",
                )
                for c in clips
            ],
            products=[card.viewer_card for card in cards.values() if card is not None],
        )

    async def clip_playlist(self, session_id: int, clip_id: str) -> str:
        index = await self.index(session_id)
        for clip in await self.clips(session_id, index):
            if clip.id == clip_id:
                return clip_playlist(clip, index, base=hls_base(session_id))
        raise NotFound(f"live session {session_id} has no clip {clip_id!r}")

    # --- changing --------------------------------------------------------------

    async def _require_manage(self, principal: Principal, session_id: int) -> None:
        async with self.services.db.sessions() as db:
            (await session_rights(db, principal, session_id)).require_manage()

    async def delete_clip(self, principal: Principal, session_id: int, clip_id: str) -> None:
        """Remove one clip (the show's host, admins); 404 if there is no such clip."""
        await self._require_manage(principal, session_id)
        index = await self.index(session_id)
        await self.clips(session_id, index)  # chosen, if they were not yet
        path = _prefix(session_id) + "clips.json"
        async with self._clips_lock:
            doc = await self._read_json(path)
            clips = [] if doc is None else [Clip.parse(c) for c in doc["clips"]]
            kept = [c for c in clips if c.id != clip_id]
            if len(kept) == len(clips):
                raise NotFound(f"live session {session_id} has no clip {clip_id!r}")
            doc = {"clips": [c.document() for c in kept]}
            await asyncio.to_thread(self.media.write, path, encoding.dumps(doc))

    async def delete_media(self, session_id: int) -> None:
        """Delete the show's media: replay, clips, everything under its prefix."""
        await asyncio.to_thread(self.media.delete_prefix, _prefix(session_id))

    async def delete_replay(self, principal: Principal, session_id: int) -> None:
        """The host deletes the show's replay: its media is gone (404 ``no_replay`` after)."""
        await self._require_manage(principal, session_id)
        await self.index(session_id)
        await self.delete_media(session_id)

    async def sweep(self, now: datetime) -> list[int]:
        """Delete the media of shows ended more than ``REPLAY_RETENTION_DAYS`` before
        ``now``; returns the sessions whose media was deleted."""
        days = self.services.settings.replay_retention_days
        if days <= 0:
            return []
        cutoff = now - timedelta(days=days)
        async with self.services.db.sessions() as db:
            ids = list(
                await db.scalars(
                    select(LiveSession.id).where(
                        LiveSession.status == SessionStatus.ENDED,
                        LiveSession.ended_at.is_not(None),
                        LiveSession.ended_at < cutoff,
                    )
                )
            )
        deleted = []
        for session_id in ids:
            if await asyncio.to_thread(self.media.list, _prefix(session_id)):
                await self.delete_media(session_id)
                deleted.append(session_id)
        return deleted

    async def _sweep_forever(self) -> None:
        while True:
            try:
                deleted = await self.sweep(self.services.clock.now())
                if deleted:
                    log.info("replays past retention deleted: %s", deleted)
            except Exception:  # noqa: BLE001 - a failed sweep is retried next time
                log.exception("replay retention sweep failed")
            await asyncio.sleep(SWEEP_INTERVAL_S)
