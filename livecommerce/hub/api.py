"""HTTP adapters for pins and a session's live state (documented in OpenAPI)."""

from __future__ import annotations

from livecommerce.api.routing import Api, Call
from livecommerce.hub import pins
from livecommerce.hub.component import Hub
from livecommerce.hub.schemas import PinIn, PinOut, SessionState
from livecommerce.hub.snapshot import snapshot

__all__ = ["api"]

api: Api[Hub] = Api(tags=["live hub"])


@api.route(
    "POST",
    "/api/sessions/{session_id:int}/pins",
    summary="Pin a product of the lineup (host, moderators, admins); every viewer is told",
    body=PinIn,
    response=PinOut,
    status=201,
    auth="required",
    errors=[403, 404, 409, 422],
)
async def pin_product(hub: Hub, call: Call) -> PinOut:
    return await pins.pin_product(
        hub.services, hub.cards, call.principal, call.id("session_id"), call.body_as(PinIn)
    )


@api.route(
    "DELETE",
    "/api/sessions/{session_id:int}/pins",
    summary="Unpin the current product (409 if nothing is pinned)",
    status=204,
    auth="required",
    errors=[403, 404, 409],
)
async def unpin_product(hub: Hub, call: Call) -> None:
    await pins.unpin(hub.services, call.principal, call.id("session_id"))


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/pins",
    summary="Pin history of a session, oldest first, with offsets into the stream",
    response=list[PinOut],
    errors=[404],
)
async def list_pins(hub: Hub, call: Call) -> list[PinOut]:
    return await pins.pin_history(hub.services, call.id("session_id"))


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/state",
    summary="The session's live state: the same snapshot a WebSocket join gets",
    response=SessionState,
    errors=[404],
)
async def session_state(hub: Hub, call: Call) -> SessionState:
    services = hub.services
    state = await snapshot(
        services.redis,
        services.db,
        hub.cards,
        call.id("session_id"),
        recent_chat=services.settings.hub_recent_chat,
    )
    return SessionState.model_validate(state)
