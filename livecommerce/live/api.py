"""HTTP adapters for live sessions: anyone reads; the host (and admins) manage."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.api.routing import Api, Call
from livecommerce.auth.permissions import session_rights
from livecommerce.catalog.store import get_product
from livecommerce.db.models import ModerationAction, Role, SessionStatus
from livecommerce.errors import NotFound
from livecommerce.events import LineupChanged
from livecommerce.live import store
from livecommerce.live.lifecycle import SessionLifecycle
from livecommerce.live.schemas import (
    LineupIn,
    ModeratorIn,
    ModeratorOut,
    ProductSessionsOut,
    SessionIn,
    SessionOut,
    SessionPage,
    SessionPatch,
    SessionQuery,
)
from livecommerce.services import Services

__all__ = ["api"]

api: Api[Services] = Api(tags=["live sessions"])


def _audit(db: AsyncSession, session_id: int, call: Call, action: str, user_id: int) -> None:
    """Who may moderate is part of the session's moderation audit log."""
    db.add(
        ModerationAction(
            session_id=session_id,
            actor_id=call.principal.require_user(),
            action=action,
            target_user_id=user_id,
        )
    )


@api.route(
    "GET",
    "/api/sessions",
    summary="List live and upcoming sessions",
    query=SessionQuery,
    response=SessionPage,
)
async def list_sessions(services: Services, call: Call) -> SessionPage:
    q = call.query_as(SessionQuery)
    async with services.db.sessions() as db:
        rows = await store.list_sessions(
            db, limit=q.limit, offset=q.offset, status=q.status, host_id=q.host_id
        )
        items = [await store.session_out(db, s) for s in rows]
    return SessionPage(items=items, next_offset=q.next_offset(len(rows)))


@api.route(
    "POST",
    "/api/sessions",
    summary="Create (schedule) a live session",
    body=SessionIn,
    response=SessionOut,
    status=201,
    auth="required",
    errors=[403],
)
async def create_session(services: Services, call: Call) -> SessionOut:
    host_id = call.principal.require_role(Role.HOST)
    async with services.db.sessions() as db:
        session = await store.create_session(db, host_id, call.body_as(SessionIn))
        await db.commit()
        return await store.session_out(db, session)


@api.route(
    "GET",
    "/api/sessions/{session_id:int}",
    summary="A session with its lineup",
    response=SessionOut,
)
async def get_session(services: Services, call: Call) -> SessionOut:
    async with services.db.sessions() as db:
        return await store.session_out(db, await store.get_session(db, call.id("session_id")))


@api.route(
    "PATCH",
    "/api/sessions/{session_id:int}",
    summary="Edit a session (its host)",
    body=SessionPatch,
    response=SessionOut,
    auth="required",
    errors=[403, 409],
)
async def update_session(services: Services, call: Call) -> SessionOut:
    session_id = call.id("session_id")
    async with services.db.sessions() as db:
        (await session_rights(db, call.principal, session_id)).require_manage()
        session = await store.get_session(db, session_id)
        await store.update_session(db, session, call.body_as(SessionPatch))
        await db.commit()
        return await store.session_out(db, session)


@api.route(
    "DELETE",
    "/api/sessions/{session_id:int}",
    summary="Delete a show that is not live, with its lineup, moderators and replay media "
    "(its host, admins)",
    status=204,
    auth="required",
    errors=[403, 409],
)
async def delete_session(services: Services, call: Call) -> None:
    """A scheduled or ended show is gone after this (404); a live one is a 409
    ``session_live``: end it first. An ended show's replay and clips are deleted from the
    media store. Orders, commissions and share links made from the show keep naming it."""
    session_id = call.id("session_id")
    async with services.db.sessions() as db:
        (await session_rights(db, call.principal, session_id)).require_manage()
        session = await store.get_session(db, session_id)
        await SessionLifecycle(services.events).delete(db, session)


async def _transition(
    services: Services, call: Call, to: SessionStatus, *, moderators_may: bool
) -> SessionOut:
    session_id = call.id("session_id")
    async with services.db.sessions() as db:
        rights = await session_rights(db, call.principal, session_id)
        if moderators_may:
            rights.require_moderate()
        else:
            rights.require_manage()
        session = await store.get_session(db, session_id)
        await SessionLifecycle(services.events).move(db, session, to)
        return await store.session_out(db, session)


@api.route(
    "POST",
    "/api/sessions/{session_id:int}/start",
    summary="Go live (its host)",
    response=SessionOut,
    auth="required",
    errors=[403, 409],
)
async def start_session(services: Services, call: Call) -> SessionOut:
    return await _transition(services, call, SessionStatus.LIVE, moderators_may=False)


@api.route(
    "POST",
    "/api/sessions/{session_id:int}/end",
    summary="End the show (its host, moderators, admins)",
    response=SessionOut,
    auth="required",
    errors=[403, 409],
)
async def end_session(services: Services, call: Call) -> SessionOut:
    return await _transition(services, call, SessionStatus.ENDED, moderators_may=True)


@api.route(
    "PUT",
    "/api/sessions/{session_id:int}/lineup",
    summary="Replace the lineup with any catalog products (its host)",
    body=LineupIn,
    response=SessionOut,
    auth="required",
    errors=[403, 409],
)
async def set_lineup(services: Services, call: Call) -> SessionOut:
    session_id = call.id("session_id")
    body = call.body_as(LineupIn)
    async with services.db.sessions() as db:
        (await session_rights(db, call.principal, session_id)).require_manage()
        session = await store.get_session(db, session_id)
        await store.set_lineup(db, session, body.product_ids)
        await db.commit()
        await services.events.publish(
            LineupChanged(session_id=session_id, product_ids=tuple(body.product_ids))
        )
        return await store.session_out(db, session)


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/moderators",
    summary="The session's moderators",
    response=list[ModeratorOut],
)
async def list_moderators(services: Services, call: Call) -> list[ModeratorOut]:
    async with services.db.sessions() as db:
        await store.get_session(db, call.id("session_id"))
        return await store.list_moderators(db, call.id("session_id"))


@api.route(
    "POST",
    "/api/sessions/{session_id:int}/moderators",
    summary="Make a user a moderator of this session (its host)",
    body=ModeratorIn,
    response=list[ModeratorOut],
    status=201,
    auth="required",
    errors=[403, 409],
)
async def add_moderator(services: Services, call: Call) -> list[ModeratorOut]:
    session_id = call.id("session_id")
    async with services.db.sessions() as db:
        (await session_rights(db, call.principal, session_id)).require_manage()
        await store.add_moderator(db, session_id, call.body_as(ModeratorIn).user_id)
        _audit(db, session_id, call, "add_moderator", call.body_as(ModeratorIn).user_id)
        await db.commit()
        return await store.list_moderators(db, session_id)


@api.route(
    "DELETE",
    "/api/sessions/{session_id:int}/moderators/{user_id:int}",
    summary="Remove a moderator (its host)",
    status=204,
    auth="required",
    errors=[403],
)
async def remove_moderator(services: Services, call: Call) -> None:
    session_id = call.id("session_id")
    async with services.db.sessions() as db:
        (await session_rights(db, call.principal, session_id)).require_manage()
        await store.remove_moderator(db, session_id, call.id("user_id"))
        _audit(db, session_id, call, "remove_moderator", call.id("user_id"))
        await db.commit()


#: At most this many live, and this many upcoming, sessions are listed for one product.
FEATURING_LIMIT = 20


@api.route(
    "GET",
    "/api/products/{product_id:int}/sessions",
    summary="The live and upcoming sessions featuring a product (in their lineup)",
    response=ProductSessionsOut,
    errors=[404],
)
async def product_sessions(services: Services, call: Call) -> ProductSessionsOut:
    product_id = call.id("product_id")
    async with services.db.sessions() as db:
        product = await get_product(db, product_id)
        if not product.is_active:
            raise NotFound(f"product {product_id} is no longer sold")
        live = await store.sessions_featuring(
            db, product_id, status=SessionStatus.LIVE, limit=FEATURING_LIMIT
        )
        upcoming = await store.sessions_featuring(
            db, product_id, status=SessionStatus.SCHEDULED, limit=FEATURING_LIMIT
        )
    return ProductSessionsOut(product_id=product_id, live=live, upcoming=upcoming)
