"""Authorization: every role check of the system lives here (DESIGN I6).

A :class:`Principal` is who is asking (possibly anonymous). Global roles gate
what anyone of that role may do (a viewer cannot create products); rights on
one live session come from SQL: its host, its moderators, and admins.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.db.models import LiveSession, Role, SessionModerator, SessionStatus
from livecommerce.errors import Forbidden, NotFound, Unauthorized

__all__ = ["ANONYMOUS", "Principal", "SessionRights", "session_rights"]


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    role: str | None
    brand_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def require_user(self) -> int:
        """The user id; raises 401 for anonymous callers."""
        if self.user_id is None:
            raise Unauthorized("sign in first: send 'Authorization: Bearer <token>'")
        return self.user_id

    def require_role(self, *roles: Role) -> int:
        """The user id, if the caller has one of ``roles`` (admins always pass)."""
        user_id = self.require_user()
        if self.role != Role.ADMIN and self.role not in roles:
            wanted = ", ".join(sorted(r.value for r in roles))
            raise Forbidden(f"this needs one of the roles: {wanted}; you are {self.role}")
        return user_id

    def require_brand(self, brand_id: int) -> int:
        """Only the brand's own users (and admins) manage its catalog."""
        user_id = self.require_role(Role.BRAND)
        if not self.is_admin and self.brand_id != brand_id:
            raise Forbidden("you can only manage your own brand's catalog")
        return user_id


ANONYMOUS = Principal(user_id=None, role=None)


@dataclass(frozen=True)
class SessionRights:
    session_id: int
    host_id: int
    is_host: bool
    is_moderator: bool
    is_admin: bool

    @property
    def can_moderate(self) -> bool:
        """Pin, unpin, moderate chat, end the stream."""
        return self.is_host or self.is_moderator or self.is_admin

    @property
    def can_manage(self) -> bool:
        """Edit the session, its lineup and its moderators; publish video."""
        return self.is_host or self.is_admin

    def require_moderate(self) -> None:
        if not self.can_moderate:
            raise Forbidden("only this session's host, its moderators and admins may do this")

    def require_manage(self) -> None:
        if not self.can_manage:
            raise Forbidden("only this session's host and admins may do this")


async def session_rights(db: AsyncSession, principal: Principal, session_id: int) -> SessionRights:
    """What ``principal`` may do on live session ``session_id`` (404 if it does not exist)."""
    host_id = await db.scalar(
        select(LiveSession.host_id).where(
            LiveSession.id == session_id, LiveSession.status != SessionStatus.DELETED
        )
    )
    if host_id is None:
        raise NotFound(f"live session {session_id} does not exist")
    is_moderator = False
    if principal.user_id is not None and principal.user_id != host_id:
        is_moderator = (
            await db.scalar(
                select(SessionModerator.id).where(
                    SessionModerator.session_id == session_id,
                    SessionModerator.user_id == principal.user_id,
                )
            )
        ) is not None
    return SessionRights(
        session_id=session_id,
        host_id=host_id,
        is_host=principal.user_id is not None and principal.user_id == host_id,
        is_moderator=is_moderator,
        is_admin=principal.is_admin,
    )
