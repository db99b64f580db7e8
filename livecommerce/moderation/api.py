"""HTTP adapters for moderation (documented in OpenAPI); the WebSocket ``moderate``
request does the same through :func:`livecommerce.moderation.actions.moderate`."""

from __future__ import annotations

from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from livecommerce.api.common import StrictModel
from livecommerce.api.routing import Api, Call, problem_from_validation
from livecommerce.moderation import actions
from livecommerce.moderation.schemas import (
    ModerateIn,
    ModerationLogOut,
    ModerationOut,
    ModerationStateOut,
)
from livecommerce.services import Services

__all__ = ["api"]

api: Api[Services] = Api(tags=["moderation"])


class LogQuery(StrictModel):
    limit: int = Field(100, ge=1, le=1000)


@api.route(
    "POST",
    "/api/sessions/{session_id:int}/moderation",
    summary="Moderate (host, moderators, admins): delete a message, mute, ban, slow mode, "
    "blocked words, end the stream; returns the audit record",
    body=ModerateIn,
    response=ModerationOut,
    status=201,
    auth="required",
    errors=[401, 403, 404, 409, 422],
)
async def post_moderation(services: Services, call: Call) -> ModerationOut:
    return await actions.moderate(
        services, call.principal, call.id("session_id"), call.body_as(ModerateIn)
    )


@api.route(
    "DELETE",
    "/api/sessions/{session_id:int}/chat/{message_id}",
    summary="Delete a chat message (host, moderators, admins); viewers get chat_deleted",
    response=ModerationOut,
    auth="required",
    errors=[401, 403, 404, 422],
)
async def delete_message(services: Services, call: Call) -> ModerationOut:
    try:
        action = ModerateIn.model_validate(
            {"action": "delete_message", "message_id": call.param("message_id")}
        )
    except PydanticValidationError as exc:
        raise problem_from_validation(exc, where="path") from None
    return await actions.moderate(services, call.principal, call.id("session_id"), action)


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/moderation",
    summary="Chat rules (slow mode, blocked words) and who is muted or banned",
    response=ModerationStateOut,
    auth="required",
    errors=[401, 403, 404],
)
async def get_moderation(services: Services, call: Call) -> ModerationStateOut:
    return await actions.moderation_state(services, call.principal, call.id("session_id"))


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/moderation/log",
    summary="The session's moderation audit log, newest first",
    query=LogQuery,
    response=ModerationLogOut,
    auth="required",
    errors=[401, 403, 404],
)
async def get_log(services: Services, call: Call) -> ModerationLogOut:
    items = await actions.audit_log(
        services, call.principal, call.id("session_id"), limit=call.query_as(LogQuery).limit
    )
    return ModerationLogOut(items=items)
