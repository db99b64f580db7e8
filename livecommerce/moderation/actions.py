"""Moderation actions: check rights (DESIGN I6), act, and write the SQL audit log.

Both adapters — the WebSocket ``moderate`` request and the HTTP endpoints —
call :func:`moderate`; each successful action leaves one ``moderation_log``
row (who, when, what, to whom). Chat state changes go to Redis
(:mod:`livecommerce.moderation.state`), where every hub process reads them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from livecommerce.auth.permissions import Principal, session_rights
from livecommerce.db.models import LiveSession, ModerationAction, SessionStatus, User
from livecommerce.errors import Forbidden, ValidationFailed
from livecommerce.live import store
from livecommerce.live.lifecycle import SessionLifecycle
from livecommerce.moderation import state
from livecommerce.moderation.schemas import (
    ModerateIn,
    ModerationOut,
    ModerationStateOut,
    MutedOut,
)
from livecommerce.services import Services

__all__ = ["audit_log", "moderate", "moderation_state", "record_out"]


def record_out(row: ModerationAction) -> ModerationOut:
    return ModerationOut.model_validate(row, from_attributes=True)


async def moderate(
    services: Services, principal: Principal, session_id: int, action: ModerateIn
) -> ModerationOut:
    """Do ``action`` on session ``session_id`` as ``principal`` (its host, a moderator or
    an admin; 403 otherwise) and return the audit record written for it."""
    actor_id = principal.require_user()
    redis = services.redis
    now_ms = int(services.clock() * 1000)
    details: dict[str, Any] = {}
    target_user = action.user_id
    ending: LiveSession | None = None
    async with services.db.sessions() as db:
        rights = await session_rights(db, principal, session_id)
        rights.require_moderate()
        if target_user is not None:
            if await db.get(User, target_user) is None:
                raise ValidationFailed(f"user_id: no user with id {target_user}")
            if action.action in ("mute", "ban") and target_user == rights.host_id:
                raise Forbidden("the show's host cannot be muted or banned", code="protected")
        match action.action:
            case "delete_message":
                assert action.message_id is not None
                message = await state.forget_chat_message(redis, session_id, action.message_id)
                if message is not None:
                    target_user = message.get("user_id")
                    details["text"] = message.get("text")
                details["seq"] = await state.delete_chat_message(
                    redis,
                    session_id,
                    action.message_id,
                    maxlen=services.settings.hub_stream_maxlen,
                )
            case "mute":
                assert target_user is not None and action.minutes is not None
                until_ms = now_ms + action.minutes * 60_000
                await state.mute(redis, session_id, target_user, until_ms=until_ms)
                details.update(minutes=action.minutes, until_ms=until_ms)
            case "unmute":
                assert target_user is not None
                await state.unmute(redis, session_id, target_user)
            case "ban":
                assert target_user is not None
                details["seq"] = await state.ban(
                    redis, session_id, target_user, maxlen=services.settings.hub_stream_maxlen
                )
            case "unban":
                assert target_user is not None
                await state.unban(redis, session_id, target_user)
            case "slow_mode":
                assert action.seconds is not None
                await state.set_slow_mode(redis, session_id, action.seconds)
                details["seconds"] = action.seconds
            case "blocked_words":
                assert action.words is not None
                details["words"] = list(
                    await state.set_blocked_words(redis, session_id, action.words)
                )
            case "end_stream":
                ending = await store.get_session(db, session_id)
                store.check_transition(ending, SessionStatus.ENDED)  # 409 before any change
        if action.reason:
            details["reason"] = action.reason
        row = ModerationAction(
            session_id=session_id,
            actor_id=actor_id,
            action=action.action,
            target_user_id=target_user,
            target_message_id=action.message_id,
            details=details,
        )
        db.add(row)
        if ending is None:
            await db.commit()
        else:
            # The audit record commits with the status; then the hub tells viewers, the
            # cart stops sales, the relay cuts the stream.
            await SessionLifecycle(services.events).move(db, ending, SessionStatus.ENDED)
        return record_out(row)


async def _require_moderate(services: Services, principal: Principal, session_id: int) -> None:
    principal.require_user()
    async with services.db.sessions() as db:
        (await session_rights(db, principal, session_id)).require_moderate()


async def moderation_state(
    services: Services, principal: Principal, session_id: int
) -> ModerationStateOut:
    """Chat rules, mutes and bans now (host, moderators, admins)."""
    await _require_moderate(services, principal, session_id)
    redis = services.redis
    rules = await state.chat_rules(redis, session_id)
    muted = await state.muted_users(redis, session_id, now_ms=int(services.clock() * 1000))
    return ModerationStateOut(
        session_id=session_id,
        slow_mode_s=rules.slow_mode_s,
        blocked_words=list(rules.blocked_words),
        muted=[MutedOut(user_id=u, until_ms=t) for u, t in sorted(muted.items())],
        banned=sorted(await state.banned_users(redis, session_id)),
    )


async def audit_log(
    services: Services, principal: Principal, session_id: int, *, limit: int = 100
) -> list[ModerationOut]:
    """The session's moderation records, newest first (host, moderators, admins)."""
    await _require_moderate(services, principal, session_id)
    async with services.db.sessions() as db:
        rows = await db.scalars(
            select(ModerationAction)
            .where(ModerationAction.session_id == session_id)
            .order_by(ModerationAction.id.desc())
            .limit(limit)
        )
        return [record_out(r) for r in rows]
