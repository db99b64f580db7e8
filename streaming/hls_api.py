"""HTTP adapters for LL-HLS: the live playlist (blocking reload), media, the VOD playlist.

``GET /hls/{id}/live.m3u8`` is answered by the show's origin (where its
packager runs); another node forwards it there. Media files (``init.mp4``,
``seg<n>.m4s``, ``part<n>.<k>.m4s``) and ``vod.m3u8`` are read from the media
store (a shared ``MEDIA_DIR`` lets any node answer); a file the store does not
have is asked of the origin. Cache headers let a CDN collapse requests
(docs/streaming.md, "LL-HLS").
"""

from __future__ import annotations

import re

import httpx
from starlette.responses import Response

from livecommerce.api.routing import Api, Call
from livecommerce.errors import BadRequest, NotFound, RangeNotSatisfiable, Unavailable
from streaming.cascade import FORWARDED_HEADER
from streaming.component import StreamingComponent
from streaming.hls.packager import ShowPackager
from streaming.hls.playlist import live_playlist
from streaming.hls.store import show_prefix

__all__ = ["PLAYLIST_TYPE", "api"]

api: Api[StreamingComponent] = Api(tags=["hls"])

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
_MEDIA_TYPES = {"mp4": "video/mp4", "m4s": "video/iso.segment"}
_IMMUTABLE = "public, max-age=31536000, immutable"
_FILE = re.compile(r"^(?:init\.mp4|seg(\d{1,9})\.m4s|part(\d{1,9})\.(\d{1,4})\.m4s)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _int_query(call: Call, name: str) -> int | None:
    raw = call.request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise BadRequest(f"{name} must be a non-negative integer")
    return int(raw)


def _not_live(session_id: int) -> NotFound:
    return NotFound(f"show {session_id} has no HLS stream (it never went live here)")


@api.route(
    "GET",
    "/hls/{session_id:int}/live.m3u8",
    summary="LL-HLS live playlist; _HLS_msn/_HLS_part hold the request until that part exists",
    errors=[400, 404, 503],
    response_media_type=PLAYLIST_TYPE,
)
async def live(streaming: StreamingComponent, call: Call) -> Response:
    session_id: int = call.id("session_id")
    msn, part = _int_query(call, "_HLS_msn"), _int_query(call, "_HLS_part")
    if part is not None and msn is None:
        raise BadRequest("_HLS_part needs _HLS_msn")
    hls = streaming.hls
    hls.requests.labels("playlist").inc()
    packager = hls.get(session_id)
    if packager is None:
        return await _elsewhere(streaming, call, session_id, "live.m3u8")
    timeline = packager.timeline
    wait = 3 * timeline.target_duration
    if msn is not None and msn > timeline.next_msn + 2:
        raise BadRequest(f"_HLS_msn {msn} is too far ahead of the playlist")
    if msn is not None or not timeline.started:
        if not await packager.wait_for(msn or 0, 0 if msn is None else part, wait):
            error = Unavailable("the requested part did not appear in time", code="hls_timeout")
            error.headers = {"Retry-After": "1"}
            raise error
    # A blocking response holds at least the part asked for, whenever it is served: a
    # CDN may keep it as long as such a request makes sense (3 target durations, the
    # span of parts a playlist lists; the query is in its cache key), so a client that
    # lags still costs the origin nothing. The plain playlist changes every part.
    max_age = 3 * timeline.target_duration if msn is not None else 1
    return Response(
        live_playlist(timeline),
        media_type=PLAYLIST_TYPE,
        headers={"Cache-Control": f"public, max-age={max_age}"},
    )


@api.route(
    "GET",
    "/hls/{session_id:int}/vod.m3u8",
    summary="The ended show's VOD playlist (EXT-X-ENDLIST): its replay",
    errors=[404],
    response_media_type=PLAYLIST_TYPE,
)
async def vod(streaming: StreamingComponent, call: Call) -> Response:
    session_id: int = call.id("session_id")
    streaming.hls.requests.labels("vod").inc()
    data = streaming.hls.store.read(show_prefix(session_id) + "vod.m3u8")
    if data is None:
        raise NotFound(f"show {session_id} has no replay (not ended, or never went live)")
    return Response(
        data, media_type=PLAYLIST_TYPE, headers={"Cache-Control": "public, max-age=86400"}
    )


@api.route(
    "GET",
    "/hls/{session_id:int}/{name}",
    summary="LL-HLS media: init.mp4, seg<msn>.m4s, part<msn>.<k>.m4s (byte ranges allowed)",
    errors=[404, 416, 503],
    response_media_type="video/iso.segment",
)
async def media(streaming: StreamingComponent, call: Call) -> Response:
    session_id: int = call.id("session_id")
    name = call.param("name")
    found = _FILE.match(name)
    if found is None:
        raise NotFound(f"no HLS file {name!r}")
    hls = streaming.hls
    kind = "init" if name == "init.mp4" else "segment" if found[1] else "part"
    hls.requests.labels(kind).inc()
    path = show_prefix(session_id) + name
    data = hls.store.read(path)
    packager = hls.get(session_id)
    if data is None and packager is not None and kind != "init":
        msn, index = (int(found[1]), None) if found[1] else (int(found[2]), int(found[3]))
        if _due(packager, msn, index):  # the preload hint, or the segment being made
            await packager.wait_for(msn, index, 3 * packager.timeline.target_duration)
            data = hls.store.read(path)
    if data is None:
        if packager is None:
            return await _elsewhere(streaming, call, session_id, name)
        raise NotFound(f"no HLS file {name!r} in show {session_id}")
    return _ranged(call, data, _MEDIA_TYPES[name.rsplit(".", 1)[1]])


def _due(packager: ShowPackager, msn: int, index: int | None) -> bool:
    """Whether the file is the next one the packager makes (a request may wait for it)."""
    timeline = packager.timeline
    if timeline.ended:
        return False
    if index is None:
        return msn == timeline.next_msn
    return (msn == timeline.next_msn and index <= len(timeline.current) + 1) or (
        msn == timeline.next_msn + 1 and index == 0
    )


def _ranged(call: Call, data: bytes, media_type: str) -> Response:
    """The file, or the byte range asked for (one range; 416 past the end)."""
    headers = {"Cache-Control": _IMMUTABLE, "Accept-Ranges": "bytes"}
    asked = call.request.headers.get("range")
    if asked is None:
        return Response(data, media_type=media_type, headers=headers)
    size = len(data)
    found = _RANGE.match(asked.strip())
    if found is None or found[1] == found[2] == "":
        return Response(data, media_type=media_type, headers=headers)  # unreadable: ignored
    if found[1] == "":  # the last N bytes
        start, end = max(0, size - int(found[2])), size - 1
    else:
        start = int(found[1])
        end = min(int(found[2]), size - 1) if found[2] else size - 1
    if start >= size or end < start:
        error = RangeNotSatisfiable(f"range {asked!r} is outside the file ({size} bytes)")
        error.headers = {"Content-Range": f"bytes */{size}"}
        raise error
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start : end + 1], status_code=206, media_type=media_type, headers=headers)


_PASSED = ("content-type", "cache-control", "content-range", "accept-ranges", "retry-after")


async def _elsewhere(
    streaming: StreamingComponent, call: Call, session_id: int, name: str
) -> Response:
    """No packager here: the show's origin answers (its live playlist and the files
    a store not shared with it lacks); a show without one never went live."""
    if call.request.headers.get(FORWARDED_HEADER) is None:
        cascade = streaming.cascade
        origin = await cascade.ownership.origin(session_id)
        if origin is not None and origin.id != streaming.node.id:
            url = f"{origin.url}/hls/{session_id}/{name}"
            sent = {FORWARDED_HEADER: streaming.node.id}
            if "range" in call.request.headers:
                sent["Range"] = call.request.headers["range"]
            try:
                answer = await cascade.http.get(
                    url, params=dict(call.request.query_params), headers=sent, timeout=30
                )
            except httpx.HTTPError as exc:
                error = Unavailable("the show's origin does not answer", code="node_unavailable")
                error.headers = {"Retry-After": "1"}
                raise error from exc
            back = {k: v for k, v in answer.headers.items() if k.lower() in _PASSED}
            return Response(answer.content, status_code=answer.status_code, headers=back)
    if name == "live.m3u8":
        ended = streaming.hls.store.read(show_prefix(session_id) + "vod.m3u8")
        if ended is not None:  # the show ended: its final playlist
            return Response(
                ended, media_type=PLAYLIST_TYPE, headers={"Cache-Control": "public, max-age=60"}
            )
    raise _not_live(session_id)
