"""The session lifecycle: every change of a session's status goes through here.

scheduled → live → ended (or a scheduled show cancelled); a show that is not live may be
deleted (:meth:`SessionLifecycle.delete`). A change is checked against
:data:`~livecommerce.live.store.TRANSITIONS`, committed in SQL, and only then announced
with one :class:`~livecommerce.events.SessionStateChanged`, so the hub, the cart and
the relay never act on a status that was rolled back. The live API, WHIP (publishing
makes a show live) and the moderators' ``end_stream`` all call this class.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.db.models import LiveSession, SessionStatus
from livecommerce.errors import Conflict
from livecommerce.events import EventBus, SessionStateChanged
from livecommerce.live import store

__all__ = ["SessionLifecycle"]


class SessionLifecycle:
    def __init__(self, events: EventBus) -> None:
        self._events = events

    async def move(self, db: AsyncSession, session: LiveSession, to: SessionStatus) -> None:
        """Move ``session`` to ``to`` (409 ``bad_transition`` if not allowed), commit
        ``db`` — with anything else the caller added to it, such as an audit record —
        then publish the change."""
        store.transition(session, to)
        await db.commit()
        await self._events.publish(SessionStateChanged(session_id=session.id, status=to.value))

    async def go_live(self, db: AsyncSession, session_id: int) -> None:
        """Publishing video makes a scheduled show live; a live one stays as it is, and
        an ended one cannot be published to (409 ``session_ended``)."""
        session = await store.get_session(db, session_id)
        if session.status == SessionStatus.ENDED:
            raise Conflict("this session has ended; schedule a new one", code="session_ended")
        if session.status == SessionStatus.SCHEDULED:
            await self.move(db, session, SessionStatus.LIVE)

    async def delete(self, db: AsyncSession, session: LiveSession) -> None:
        """Delete a scheduled or ended show (409 ``session_live`` while it is live: end it
        first), commit, then publish status ``deleted``: the replay component deletes the
        show's media, the hub tells its viewers. Its row goes when nothing else names it;
        otherwise it stays with status ``deleted``, which every read treats as no show."""
        if session.status == SessionStatus.LIVE:
            raise Conflict("the show is live: end it before deleting it", code="session_live")
        session_id = session.id
        try:
            await store.remove_session(db, session)
            await db.commit()
        except IntegrityError:
            # A row naming the show was written after the check: once more, which finds
            # it and keeps the show's row, marked.
            await db.rollback()
            await store.remove_session(db, await store.get_session(db, session_id))
            await db.commit()
        await self._events.publish(
            SessionStateChanged(session_id=session_id, status=SessionStatus.DELETED.value)
        )
