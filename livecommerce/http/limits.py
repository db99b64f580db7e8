"""Request bodies: the media type an endpoint accepts and how much of it it reads.

A body is never read whole before it is measured: a declared ``Content-Length``
over the limit is refused before any byte is read, and a streamed (chunked) body
is read only up to the limit. Either way the answer is 413 and the connection is
closed, so the rest of the body is never read into memory.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from livecommerce.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = ["JSON_MEDIA_TYPE", "check_media_type", "is_json", "read_body"]

JSON_MEDIA_TYPE = "application/json"


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    """``application/json`` or a ``+json`` structured syntax (RFC 6839)."""
    media = _media_type(content_type)
    return media == JSON_MEDIA_TYPE or (
        media.startswith("application/") and media.endswith("+json")
    )


def check_media_type(request: Request, expected: str) -> None:
    """415 unless the request's ``Content-Type`` is ``expected`` (any JSON type for JSON)."""
    content_type = request.headers.get("content-type")
    ok = (
        is_json(content_type)
        if expected == JSON_MEDIA_TYPE
        else _media_type(content_type) == expected
    )
    if not ok:
        raise UnsupportedMediaType(
            f"send the body as Content-Type: {expected}, got {content_type or 'no Content-Type'}"
        )


def _too_large(limit: int) -> PayloadTooLarge:
    error = PayloadTooLarge(f"the request body is larger than {limit} bytes", limit=limit)
    # The unread rest of the body must not be parsed as the next request, nor read at
    # all: closing the connection after the answer drops it.
    error.headers = {"Connection": "close"}
    return error


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 (:class:`PayloadTooLarge`) if it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise BadRequest(f"Content-Length must be a number, got {declared!r}") from None
        if length > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody will read the answer; a client hanging up is not a server error.
        raise BadRequest("the client closed the connection before sending its body") from None
    return b"".join(chunks)
