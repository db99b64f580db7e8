"""Who runs a live session (its host and moderators), cached per session.

The hub asks it before a pin, the dashboard push before every frame it sends
to a moderator. Both share one cache per process, read from SQL once per
session per ``ttl_s`` (``Settings.session_rights_cache_s``) however many
signed-in viewers there are, so a moderator removed mid-show loses the right
within that time. A refusal is asked of SQL again (a moderator added a moment
ago may act at once; a viewer's refused requests are rate-limited anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from livecommerce.auth.permissions import Principal, SessionRights
from livecommerce.db.engine import Database
from livecommerce.db.models import LiveSession, SessionModerator
from livecommerce.errors import NotFound
from livecommerce.ttlcache import TtlCache

__all__ = ["RightsCache", "Staff"]


@dataclass(frozen=True, slots=True)
class Staff:
    """A session's host and moderators."""

    session_id: int
    host_id: int
    moderators: frozenset[int]

    def rights(self, principal: Principal) -> SessionRights:
        user = principal.user_id
        return SessionRights(
            session_id=self.session_id,
            host_id=self.host_id,
            is_host=user is not None and user == self.host_id,
            is_moderator=user is not None and user != self.host_id and user in self.moderators,
            is_admin=principal.is_admin,
        )

    def may_moderate(self, principal: Principal) -> bool:
        return self.rights(principal).can_moderate


class RightsCache:
    """Each session's :class:`Staff`, kept ``ttl_s`` seconds (at most ``max_entries``
    sessions); concurrent misses share one SQL read."""

    def __init__(self, db: Database, *, ttl_s: float, max_entries: int = 10_000) -> None:
        self.db = db
        self._staff: TtlCache[int, Staff] = TtlCache(
            self._load, ttl_s=ttl_s, max_entries=max_entries
        )

    async def _load(self, session_id: int) -> Staff:
        async with self.db.sessions() as db:
            host = await db.scalar(select(LiveSession.host_id).where(LiveSession.id == session_id))
            if host is None:
                raise NotFound(f"live session {session_id} does not exist")
            mods = await db.scalars(
                select(SessionModerator.user_id).where(SessionModerator.session_id == session_id)
            )
            return Staff(session_id, host, frozenset(mods))

    async def staff(self, session_id: int, *, fresh: bool = False) -> Staff:
        """The session's staff (404 ``NotFound`` if the session does not exist);
        ``fresh``: read it again now."""
        if fresh:
            self._staff.forget(session_id)
        return await self._staff.get(session_id)

    async def rights(self, principal: Principal, session_id: int) -> SessionRights:
        """``principal``'s rights on the session; a refusal is checked against SQL."""
        rights = (await self.staff(session_id)).rights(principal)
        if rights.can_moderate or principal.user_id is None:
            return rights
        return (await self.staff(session_id, fresh=True)).rights(principal)
