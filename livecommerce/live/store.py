"""Live session operations on SQL; plain functions taking an ``AsyncSession``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from livecommerce.catalog.store import product_out
from livecommerce.db.models import (
    AffiliateLink,
    CommissionEntry,
    LiveSession,
    ModerationAction,
    Order,
    Pin,
    Product,
    SessionModerator,
    SessionProduct,
    SessionStatus,
    User,
    utcnow,
)
from livecommerce.errors import Conflict, NotFound, ValidationFailed
from livecommerce.live.schemas import (
    ModeratorOut,
    SessionBrief,
    SessionIn,
    SessionOut,
    SessionPatch,
)

__all__ = [
    "SCHEDULE_SLACK",
    "TRANSITIONS",
    "add_moderator",
    "check_schedule",
    "check_transition",
    "create_session",
    "get_session",
    "lineup",
    "list_moderators",
    "list_sessions",
    "remove_moderator",
    "remove_session",
    "session_out",
    "sessions_featuring",
    "set_lineup",
    "transition",
    "update_session",
]

#: The session lifecycle: scheduled → live → ended, or a scheduled show cancelled; a show
#: that is not live may be deleted (kept as ``deleted`` only while other rows name it).
TRANSITIONS: dict[str, set[str]] = {
    SessionStatus.SCHEDULED: {SessionStatus.LIVE, SessionStatus.ENDED, SessionStatus.DELETED},
    SessionStatus.LIVE: {SessionStatus.ENDED},
    SessionStatus.ENDED: {SessionStatus.DELETED},
    SessionStatus.DELETED: set(),
}

#: Rows that outlive their show: the books and the moderation audit. While one names a
#: deleted show, its SQL row stays, marked ``deleted``.
_KEPT_BY = (
    Order.session_id,
    CommissionEntry.session_id,
    AffiliateLink.session_id,
    ModerationAction.session_id,
)


#: How far in the past a show may still be scheduled: a time picker has minute steps, so
#: "now" chosen in a form is up to a minute old when it arrives.
SCHEDULE_SLACK = timedelta(minutes=1)


def _field_error(field: str, message: str, kind: str) -> ValidationFailed:
    """A 422 naming the body field it is about, shaped like the request validator's
    (``errors[].loc``), so a form can show the message next to its field."""
    return ValidationFailed(
        f"{field}: {message}", errors=[{"loc": ["body", field], "msg": message, "type": kind}]
    )


def check_schedule(scheduled_at: datetime | None, *, now: datetime) -> None:
    """422 if a show would be scheduled in the past (more than :data:`SCHEDULE_SLACK`)."""
    if scheduled_at is not None and scheduled_at < now - SCHEDULE_SLACK:
        raise _field_error("scheduled_at", "must not be in the past", "past_time")


async def get_session(db: AsyncSession, session_id: int) -> LiveSession:
    """The session (404 if there is none, or it was deleted)."""
    session = await db.get(LiveSession, session_id)
    if session is None or session.status == SessionStatus.DELETED:
        raise NotFound(f"live session {session_id} does not exist")
    return session


async def create_session(db: AsyncSession, host_id: int, data: SessionIn) -> LiveSession:
    check_schedule(data.scheduled_at, now=utcnow())
    session = LiveSession(
        host_id=host_id,
        title=data.title,
        description=data.description,
        scheduled_at=data.scheduled_at,
    )
    db.add(session)
    await db.flush()
    if data.product_ids:
        await set_lineup(db, session, data.product_ids)
    return session


async def update_session(db: AsyncSession, session: LiveSession, patch: SessionPatch) -> None:
    if session.status == SessionStatus.ENDED:
        raise Conflict("this session has ended and can no longer be edited", code="session_ended")
    check_schedule(patch.scheduled_at, now=utcnow())
    for name, value in patch.model_dump(exclude_unset=True).items():
        if value is None and name != "scheduled_at":
            continue
        setattr(session, name, value)
    await db.flush()


def check_transition(session: LiveSession, to: SessionStatus) -> None:
    """409 if the lifecycle does not allow ``session`` to become ``to``."""
    if to not in TRANSITIONS[SessionStatus(session.status)]:
        raise Conflict(
            f"a {session.status} session cannot become {to.value}", code="bad_transition"
        )


def transition(session: LiveSession, to: SessionStatus, *, now: datetime | None = None) -> None:
    """Move ``session`` to status ``to``; 409 if the lifecycle does not allow it. Only
    :class:`~livecommerce.live.lifecycle.SessionLifecycle` calls this: it commits and
    announces the change."""
    check_transition(session, to)
    moment = now or utcnow()
    session.status = to.value
    if to == SessionStatus.LIVE:
        session.started_at = moment
    elif to == SessionStatus.ENDED:
        session.ended_at = moment


async def remove_session(db: AsyncSession, session: LiveSession) -> bool:
    """Delete a show that is not live (the caller checked) and flush: its lineup, its
    moderators and, for a show never live, their appointments in the audit log; then its
    row and pins, unless an order, a commission, a share link or the audit still names it:
    then the row stays, marked ``deleted`` (returns ``False``). Only
    :class:`~livecommerce.live.lifecycle.SessionLifecycle` calls this: it commits and
    announces the change."""
    check_transition(session, SessionStatus.DELETED)
    sid = session.id
    await db.execute(delete(SessionProduct).where(SessionProduct.session_id == sid))
    await db.execute(delete(SessionModerator).where(SessionModerator.session_id == sid))
    if session.status == SessionStatus.SCHEDULED:
        await db.execute(delete(ModerationAction).where(ModerationAction.session_id == sid))
    for column in _KEPT_BY:
        if await db.scalar(select(column).where(column == sid).limit(1)) is not None:
            session.status = SessionStatus.DELETED.value
            await db.flush()
            return False
    await db.execute(delete(Pin).where(Pin.session_id == sid))
    await db.delete(session)
    await db.flush()
    return True


async def set_lineup(db: AsyncSession, session: LiveSession, product_ids: Sequence[int]) -> None:
    """Replace the lineup; any active product of any brand may be featured."""
    if len(set(product_ids)) != len(product_ids):
        raise _field_error(
            "product_ids", "a product can appear in the lineup only once", "duplicate"
        )
    if session.status == SessionStatus.ENDED:
        raise Conflict("this session has ended and can no longer be edited", code="session_ended")
    if product_ids:
        found = set(
            await db.scalars(
                select(Product.id).where(Product.id.in_(product_ids), Product.is_active)
            )
        )
        missing = [(i, p) for i, p in enumerate(product_ids) if p not in found]
        if missing:
            # Every missing one, each at its place in the list, so a form can mark them all.
            raise ValidationFailed(
                f"product_ids: no active product with id {missing[0][1]}",
                errors=[
                    {
                        "loc": ["body", "product_ids", str(i)],
                        "msg": f"no active product with id {p}",
                        "type": "not_found",
                    }
                    for i, p in missing
                ],
            )
    await db.execute(delete(SessionProduct).where(SessionProduct.session_id == session.id))
    db.add_all(
        SessionProduct(session_id=session.id, product_id=pid, position=i)
        for i, pid in enumerate(product_ids)
    )
    await db.flush()


async def lineup(db: AsyncSession, session_id: int) -> list[Product]:
    rows = await db.scalars(
        select(Product)
        .join(SessionProduct, SessionProduct.product_id == Product.id)
        .where(SessionProduct.session_id == session_id)
        .order_by(SessionProduct.position)
        .options(selectinload(Product.variants))
    )
    return list(rows)


async def session_out(db: AsyncSession, session: LiveSession) -> SessionOut:
    host_name = await db.scalar(select(User.display_name).where(User.id == session.host_id))
    return SessionOut(
        id=session.id,
        host_id=session.host_id,
        host_name=host_name or "",
        title=session.title,
        description=session.description,
        status=session.status,
        scheduled_at=session.scheduled_at,
        started_at=session.started_at,
        ended_at=session.ended_at,
        lineup=[product_out(p) for p in await lineup(db, session.id)],
    )


async def list_sessions(
    db: AsyncSession,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    host_id: int | None = None,
) -> Sequence[LiveSession]:
    query = select(LiveSession)
    if status in (None, "upcoming"):
        query = query.where(
            LiveSession.status.in_([SessionStatus.LIVE.value, SessionStatus.SCHEDULED.value])
        )
    else:
        query = query.where(LiveSession.status == status)
    if host_id is not None:
        query = query.where(LiveSession.host_id == host_id)
    # Live shows first, then the soonest scheduled.
    query = query.order_by(
        (LiveSession.status != SessionStatus.LIVE.value),
        func.coalesce(LiveSession.scheduled_at, LiveSession.created_at),
        LiveSession.id,
    )
    rows = await db.scalars(query.limit(limit).offset(offset))
    return rows.all()


async def sessions_featuring(
    db: AsyncSession, product_id: int, *, status: SessionStatus, limit: int
) -> list[SessionBrief]:
    """Sessions in ``status`` whose lineup holds ``product_id``, soonest scheduled first
    (unscheduled last), at most ``limit``."""
    rows = await db.execute(
        select(LiveSession, User.display_name)
        .join(SessionProduct, SessionProduct.session_id == LiveSession.id)
        .join(User, User.id == LiveSession.host_id)
        .where(SessionProduct.product_id == product_id, LiveSession.status == status.value)
        .order_by(
            LiveSession.scheduled_at.is_(None),
            LiveSession.scheduled_at,
            LiveSession.id,
        )
        .limit(limit)
    )
    return [
        SessionBrief(
            id=s.id,
            title=s.title,
            status=s.status,
            host_name=name,
            scheduled_at=s.scheduled_at,
            started_at=s.started_at,
        )
        for s, name in rows
    ]


async def add_moderator(db: AsyncSession, session_id: int, user_id: int) -> None:
    if await db.get(User, user_id) is None:
        raise ValidationFailed(f"user_id: no user with id {user_id}")
    db.add(SessionModerator(session_id=session_id, user_id=user_id))
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise Conflict("that user already moderates this session") from None


async def remove_moderator(db: AsyncSession, session_id: int, user_id: int) -> None:
    result = await db.execute(
        delete(SessionModerator).where(
            SessionModerator.session_id == session_id, SessionModerator.user_id == user_id
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound("that user does not moderate this session")


async def list_moderators(db: AsyncSession, session_id: int) -> list[ModeratorOut]:
    rows = await db.execute(
        select(User.id, User.display_name)
        .join(SessionModerator, SessionModerator.user_id == User.id)
        .where(SessionModerator.session_id == session_id)
        .order_by(User.id)
    )
    return [ModeratorOut(user_id=uid, display_name=name) for uid, name in rows]
