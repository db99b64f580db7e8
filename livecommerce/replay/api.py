"""HTTP adapters for replays and their highlight clips (documented in OpenAPI)."""

from __future__ import annotations

from starlette.responses import Response

from livecommerce.api.routing import Api, Call
from livecommerce.replay.component import Replays
from livecommerce.replay.schemas import ReplayOut, TapIn

__all__ = ["api"]

api: Api[Replays] = Api(tags=["replays"])

PLAYLIST_MEDIA_TYPE = "application/vnd.apple.mpegurl"


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/replay",
    summary="An ended show's replay: its VOD playlist, product chapters and highlight clips",
    response=ReplayOut,
    errors=[404],
)
async def get_replay(replays: Replays, call: Call) -> ReplayOut:
    return await replays.replay(call.id("session_id"))


@api.route(
    "POST",
    "/api/sessions/{session_id:int}/taps",
    summary="A viewer tapped the pinned product's card (Buy, Add to cart): highlight clips "
    "weigh the taps",
    body=TapIn,
    status=204,
    errors=[409, 422],
)
async def record_tap(replays: Replays, call: Call) -> None:
    await replays.record_tap(call.id("session_id"), call.body_as(TapIn).product_id)


@api.route(
    "DELETE",
    "/api/sessions/{session_id:int}/replay",
    summary="Delete the show's replay and clips: its media (the host, admins)",
    status=204,
    auth="required",
    errors=[403, 404],
)
async def delete_replay(replays: Replays, call: Call) -> None:
    await replays.delete_replay(call.principal, call.id("session_id"))


@api.route(
    "GET",
    "/api/sessions/{session_id:int}/clips/{clip_id}/playlist.m3u8",
    summary="A highlight clip's VOD playlist: the replay's own segments, not encoded again",
    errors=[404],
    response_media_type=PLAYLIST_MEDIA_TYPE,
)
async def clip_playlist(replays: Replays, call: Call) -> Response:
    text = await replays.clip_playlist(call.id("session_id"), call.request.path_params["clip_id"])
    return Response(
        text, media_type=PLAYLIST_MEDIA_TYPE, headers={"Cache-Control": "public, max-age=60"}
    )


@api.route(
    "DELETE",
    "/api/sessions/{session_id:int}/clips/{clip_id}",
    summary="Delete a highlight clip (the show's host, admins)",
    status=204,
    auth="required",
    errors=[403, 404],
)
async def delete_clip(replays: Replays, call: Call) -> None:
    clip_id = call.request.path_params["clip_id"]
    await replays.delete_clip(call.principal, call.id("session_id"), clip_id)
