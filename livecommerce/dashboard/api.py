"""HTTP adapters: one session's dashboard, and the admins' overview of live sessions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from livecommerce import keys
from livecommerce.api.routing import Api, Call
from livecommerce.auth.permissions import session_rights
from livecommerce.dashboard.component import Dashboard
from livecommerce.dashboard.numbers import conversion, live_counters
from livecommerce.dashboard.sales import load_sales
from livecommerce.dashboard.schemas import (
    DashboardOut,
    OverviewItem,
    OverviewOut,
    SessionSummaryOut,
)
from livecommerce.db.models import LiveSession, SessionStatus
from livecommerce.pinstate import current_pin

__all__ = ["api"]

api: Api[Dashboard] = Api(tags=["dashboards"])


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/dashboard",
    summary="A session's live numbers (host, moderators, admins): the same JSON as the "
    "WebSocket 'dashboard' frame",
    response=DashboardOut,
    auth="required",
    errors=[401, 403, 404],
)
async def session_dashboard(dashboard: Dashboard, call: Call) -> DashboardOut:
    session_id = call.id("session_id")
    call.principal.require_user()
    async with dashboard.services.db.sessions() as db:
        (await session_rights(db, call.principal, session_id)).require_moderate()
    return await dashboard.dashboard(session_id)


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/summary",
    summary="A session's headline numbers (host, moderators, admins): orders, units and "
    "revenue from SQL, peak viewers if known",
    response=SessionSummaryOut,
    auth="required",
    errors=[401, 403, 404],
)
async def session_summary(dashboard: Dashboard, call: Call) -> SessionSummaryOut:
    session_id = call.id("session_id")
    call.principal.require_user()
    async with dashboard.services.db.sessions() as db:
        (await session_rights(db, call.principal, session_id)).require_moderate()
        status = await db.scalar(select(LiveSession.status).where(LiveSession.id == session_id))
    # Not the dashboards' one-second cache: the host's list of shows is read rarely and
    # must agree with the orders just made.
    now = datetime.fromtimestamp(dashboard.services.clock(), UTC)
    sales = await load_sales(dashboard.services.db, session_id, now=now)
    peak = await dashboard.services.redis.hget(keys.session_counters(session_id), "viewers_peak")
    return SessionSummaryOut(
        session=session_id,
        status=str(status),
        orders=sales.orders,
        buyers=sales.buyers,
        units_sold=sales.units_sold,
        gmv_minor=sales.gmv_minor,
        currency=sales.currency,
        viewers_peak=None if peak is None else int(peak),
    )


@api.route(
    "GET",
    "/api/admin/sessions",
    summary="Admins: every live session with its headline numbers",
    response=OverviewOut,
    auth="required",
    errors=[401, 403],
)
async def admin_overview(dashboard: Dashboard, call: Call) -> OverviewOut:
    call.principal.require_role()  # admins only
    services = dashboard.services
    async with services.db.sessions() as db:
        rows = list(
            await db.execute(
                select(LiveSession.id, LiveSession.title, LiveSession.host_id)
                .where(LiveSession.status == SessionStatus.LIVE.value)
                .order_by(LiveSession.started_at.desc(), LiveSession.id)
                .limit(500)
            )
        )
    items = []
    for session_id, title, host_id in rows:
        counters = await live_counters(services.redis, session_id)
        sales = await dashboard.sales_of(session_id)
        pin = await current_pin(services.redis, session_id)
        stream = await services.redis.hget(keys.session_media(session_id), "publishing")
        items.append(
            OverviewItem(
                session=session_id,
                title=title,
                host_id=host_id,
                viewers_now=counters.get("viewers_now", 0),
                viewers_peak=counters.get("viewers_peak", 0),
                unique_viewers=counters["unique"],
                orders=sales.orders,
                units_sold=sales.units_sold,
                gmv_minor=sales.gmv_minor,
                currency=sales.currency,
                conversion=conversion(sales, counters["unique"]),
                pinned_product_id=pin.product_id if pin else None,
                publishing=stream in (b"1", "1"),
            )
        )
    return OverviewOut(items=items)
