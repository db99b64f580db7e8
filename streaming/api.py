"""HTTP adapters for WHIP (RFC 9725) ingest, WHEP playback and stream health.

Thin: check who is asking and what they sent, then hand over to
:class:`~streaming.component.StreamingComponent`. SDP travels as
``application/sdp``; errors are problem documents like everywhere else.

Any node answers: a WHIP offer for a show whose live origin is another node is
forwarded there (the answer, ``Location`` included, comes back unchanged), and
a ``DELETE`` of a resource another node serves is forwarded to that node
(:mod:`streaming.cascade`).
"""

from __future__ import annotations

from starlette.responses import Response

from livecommerce import keys
from livecommerce.api.routing import Api, Call
from livecommerce.auth.permissions import session_rights
from livecommerce.db.models import SessionStatus
from livecommerce.errors import Conflict, MethodNotAllowed, Unavailable
from livecommerce.live import store
from livecommerce.live.lifecycle import SessionLifecycle
from streaming.cascade import Cascade
from streaming.component import StreamingComponent
from streaming.edge import EDGE_HEADER, edge_of
from streaming.sdp import SDP_MEDIA_TYPE, check_media_type, parse_offer
from streaming.stats import MediaHealth
from streaming.whep import Viewer
from streaming.whip import Publisher

__all__ = ["api"]

api: Api[StreamingComponent] = Api(tags=["streaming"])

_RESOURCE_HEADERS = {
    "Location": "URL of the created resource; DELETE it to stop.",
    "ETag": "Entity tag of the ICE session (RFC 9725).",
}


def _sdp_created(answer: str, location: str, etag: str) -> Response:
    return Response(
        content=answer,
        status_code=201,
        media_type=SDP_MEDIA_TYPE,
        headers={"Location": location, "ETag": etag},
    )


async def _session_status(streaming: StreamingComponent, session_id: int) -> str:
    async with streaming.services.db.sessions() as db:
        return (await store.get_session(db, session_id)).status


@api.route(
    "POST",
    "/whip/{session_id:int}",
    summary="WHIP: publish the session's video (its host); body is the SDP offer",
    status=201,
    auth="required",
    errors=[400, 401, 403, 404, 409, 415, 503],
    request_media_type=SDP_MEDIA_TYPE,
    response_media_type=SDP_MEDIA_TYPE,
    response_headers=_RESOURCE_HEADERS,
)
async def whip_publish(streaming: StreamingComponent, call: Call) -> Response:
    session_id: int = call.id("session_id")
    async with streaming.services.db.sessions() as db:
        (await session_rights(db, call.principal, session_id)).require_manage()
        if (await store.get_session(db, session_id)).status == SessionStatus.ENDED:
            raise Conflict("this session has ended; schedule a new one", code="session_ended")
    check_media_type(call.request.headers.get("content-type"))
    offer = parse_offer(call.content, role="publish")
    cascade = streaming.cascade
    holder = await cascade.claim_origin(session_id)
    if holder is not None:  # the show's live origin is another node: its host publishes there
        return await cascade.forward_publish(
            session_id, holder, headers=dict(call.request.headers), content=call.content
        )
    try:
        await streaming.claim_publishing(session_id)
        publisher = await streaming.publish(session_id, offer)
    except BaseException:
        await cascade.release_if_unpublished(session_id)
        raise
    try:
        await _go_live(streaming, session_id)
    except BaseException:
        await publisher.close()
        raise
    return _sdp_created(publisher.answer, f"/whip/{session_id}/{publisher.id}", publisher.etag)


async def _go_live(streaming: StreamingComponent, session_id: int) -> None:
    """Publishing makes a scheduled show live (ending publishing does not end it)."""
    async with streaming.services.db.sessions() as db:
        await SessionLifecycle(streaming.services.events).go_live(db, session_id)


@api.route(
    "DELETE",
    "/whip/{session_id:int}/{resource_id}",
    summary="WHIP: stop publishing (the show stays live until its host ends it)",
    status=200,
    response_media_type="text/plain",
    auth="required",
    errors=[401, 403, 404, 503],
)
async def whip_stop(streaming: StreamingComponent, call: Call) -> Response:
    session_id: int = call.id("session_id")
    async with streaming.services.db.sessions() as db:
        (await session_rights(db, call.principal, session_id)).require_manage()
    resource_id = call.param("resource_id")
    if not _served_here(streaming, resource_id):
        return await _forward_delete(streaming.cascade, call, session_id, "whip", resource_id)
    resource = streaming.resource(Publisher, session_id, resource_id)
    await resource.close()
    return Response(status_code=200, media_type="text/plain")  # RFC 9725: 200 OK


@api.route(
    "PATCH",
    "/whip/{session_id:int}/{resource_id}",
    summary="WHIP trickle ICE / ICE restart: not supported (405); the answer has all candidates",
    errors=[405],
)
async def whip_patch(streaming: StreamingComponent, call: Call) -> Response:
    raise _no_trickle()


async def _refuse_when_full(streaming: StreamingComponent, session_id: int) -> None:
    """503 ``webrtc_full`` with the show's HLS URL once its WebRTC viewers, summed over
    the nodes (``STREAM_MAX_WEBRTC_VIEWERS``), reach the cap."""
    cap = streaming.services.settings.stream_max_webrtc_viewers
    if not cap:
        return
    viewers = await streaming.services.redis.hget(keys.session_media(session_id), "viewers")
    if int(viewers or 0) >= cap:
        raise Unavailable(
            f"this show's WebRTC viewers are full ({cap}); watch it over HLS",
            code="webrtc_full",
            hls_url=f"/hls/{session_id}/live.m3u8",
        )


@api.route(
    "POST",
    "/whep/{session_id:int}",
    summary="WHEP: watch the session (anyone, signed in or not); body is the SDP offer",
    status=201,
    auth="optional",
    errors=[400, 401, 404, 409, 415, 503],
    request_media_type=SDP_MEDIA_TYPE,
    response_media_type=SDP_MEDIA_TYPE,
    response_headers=_RESOURCE_HEADERS,
)
async def whep_play(streaming: StreamingComponent, call: Call) -> Response:
    session_id: int = call.id("session_id")
    if await _session_status(streaming, session_id) == SessionStatus.ENDED:
        raise Conflict("this show has ended", code="session_ended")
    edge = edge_of(streaming.settings.secret_key, session_id, call.request.headers.get(EDGE_HEADER))
    if edge is None:
        await _refuse_when_full(streaming, session_id)
    check_media_type(call.request.headers.get("content-type"))
    offer = parse_offer(call.content, role="play")
    viewer = await streaming.watch(session_id, offer, edge=edge)
    return _sdp_created(viewer.answer, f"/whep/{session_id}/{viewer.id}", viewer.etag)


@api.route(
    "DELETE",
    "/whep/{session_id:int}/{resource_id}",
    summary="WHEP: stop watching",
    status=200,
    response_media_type="text/plain",
    errors=[404, 503],
)
async def whep_stop(streaming: StreamingComponent, call: Call) -> Response:
    session_id: int = call.id("session_id")
    resource_id = call.param("resource_id")
    if not _served_here(streaming, resource_id):
        return await _forward_delete(streaming.cascade, call, session_id, "whep", resource_id)
    resource = streaming.resource(Viewer, session_id, resource_id)
    await resource.close()
    return Response(status_code=200, media_type="text/plain")  # RFC 9725: 200 OK


def _served_here(streaming: StreamingComponent, resource_id: str) -> bool:
    """Resource ids are ``<node id>.<token>``: whether this node serves it."""
    node_id, dot, _ = resource_id.partition(".")
    return not dot or node_id == streaming.node.id


async def _forward_delete(
    cascade: Cascade, call: Call, session_id: int, kind: str, resource_id: str
) -> Response:
    return await cascade.forward_delete(
        session_id, kind, resource_id, headers=dict(call.request.headers)
    )


@api.route(
    "PATCH",
    "/whep/{session_id:int}/{resource_id}",
    summary="WHEP trickle ICE / ICE restart: not supported (405); the answer has all candidates",
    errors=[405],
)
async def whep_patch(streaming: StreamingComponent, call: Call) -> Response:
    raise _no_trickle()


def _no_trickle() -> MethodNotAllowed:
    error = MethodNotAllowed(
        "trickle ICE and ICE restarts are not supported: the SDP answer already lists "
        "every candidate; to restart, DELETE the resource and POST a new offer",
        code="trickle_not_supported",
    )
    setattr(error, "headers", {"Allow": "DELETE"})  # noqa: B010 — read by the problem handler
    return error


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/media",
    summary="Stream health: inbound bitrate, fps, packet loss, keyframes, viewers on media",
    response=MediaHealth,
    errors=[404],
)
async def media_health(streaming: StreamingComponent, call: Call) -> MediaHealth:
    session_id: int = call.id("session_id")
    await _session_status(streaming, session_id)  # 404 for an unknown session
    health = await streaming.health(session_id)
    return health if health is not None else MediaHealth.idle(session_id)
