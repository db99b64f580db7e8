"""HTTP adapters for pins and a session's live state (documented in OpenAPI)."""

from __future__ import annotations

from livecommerce.api.routing import Api, Call
from livecommerce.hub import pins
from livecommerce.hub.schemas import PinIn, PinOut, SessionState
from livecommerce.hub.snapshot import snapshot

__all__ = ["api"]

api = Api(tags=["live hub"])


def _hub(call: Call):  # type: ignore[no-untyped-def]
    from livecommerce.hub.component import Hub

    return call.services.get(Hub)


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
async def pin_product(call: Call) -> PinOut:
    hub = _hub(call)
    return await pins.pin_product(
        call.services, hub.cards, call.principal, call.path["session_id"], call.body
    )


@api.route(
    "DELETE",
    "/api/sessions/{session_id:int}/pins",
    summary="Unpin the current product (409 if nothing is pinned)",
    status=204,
    auth="required",
    errors=[403, 404, 409],
)
async def unpin_product(call: Call) -> None:
    await pins.unpin(call.services, call.principal, call.path["session_id"])


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/pins",
    summary="Pin history of a session, oldest first, with offsets into the stream",
    response=list[PinOut],
    errors=[404],
)
async def list_pins(call: Call) -> list[PinOut]:
    return await pins.pin_history(call.services, call.path["session_id"])


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/state",
    summary="The session's live state: the same snapshot a WebSocket join gets",
    response=SessionState,
    errors=[404],
)
async def session_state(call: Call) -> SessionState:
    services = call.services
    state = await snapshot(
        services.redis,
        services.db,
        _hub(call).cards,
        call.path["session_id"],
        recent_chat=services.settings.hub_recent_chat,
    )
    return SessionState.model_validate(state)
