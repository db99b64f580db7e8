"""CORS and security headers: what other origins may call and frame, configured in
settings (``CORS_ORIGINS``, ``FRAME_ANCESTORS``), never spelled per route.

* :class:`ProblemCORSMiddleware` is Starlette's CORS middleware over ``CORS_ORIGINS``, exposing the
  headers clients must read (``Location``, ``ETag``, ``Link`` of WHIP/WHEP,
  ``Retry-After``, ``X-Request-ID``); a refused preflight is problem+json.
* :class:`SecurityHeaders` adds ``X-Content-Type-Options: nosniff`` and a
  ``Referrer-Policy`` to every HTTP response.
* :func:`page_headers` is the pages' Content-Security-Policy: scripts from this origin
  (and the page's own inline scripts, by hash), ``frame-ancestors`` only the
  configured embedding origins, so nobody else can frame the buy page.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livecommerce import encoding
from livecommerce.errors import BadRequest
from livecommerce.settings import Settings

__all__ = [
    "EXPOSED_HEADERS",
    "ProblemCORSMiddleware",
    "SecurityHeaders",
    "cors_options",
    "page_headers",
]

#: Response headers a cross-origin script may read.
EXPOSED_HEADERS = ("Location", "ETag", "Link", "Retry-After", "X-Request-ID")
#: Request headers a cross-origin script may send.
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "If-Match")
ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

_REFERRER_POLICY = b"strict-origin-when-cross-origin"


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware; a refused preflight answers problem+json."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        error = BadRequest(bytes(response.body).decode(), code="cors_refused")
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-type", "content-length")
        }
        return Response(
            encoding.dumps(error.problem()),
            status_code=error.status,
            headers=headers,
            media_type="application/problem+json",
        )


def cors_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of :class:`ProblemCORSMiddleware` for ``settings``."""
    return dict(
        allow_origins=list(settings.cors_origins),
        allow_methods=list(ALLOWED_METHODS),
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        # Bearer tokens, not cookies: no credentials mode, so "*" stays usable.
        allow_credentials=False,
        max_age=600,
    )


class SecurityHeaders:
    """Adds ``nosniff`` and a ``Referrer-Policy`` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", _REFERRER_POLICY),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions (``'sha256-...'``) for each inline ``<script>`` of ``html``."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def page_headers(script_hashes: Sequence[str], frame_ancestors: Sequence[str]) -> dict[str, str]:
    """Content-Security-Policy (and, when no one may frame it, X-Frame-Options) of a page."""
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    policy = "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *script_hashes]),
            # The pages set a few style attributes; styles cannot run code.
            "style-src 'self' 'unsafe-inline'",
            # Product images live on brands' own hosts.
            "img-src 'self' data: https:",
            "media-src 'self' blob:",
            # 'self' covers the same origin's ws:/wss: (the hub) and fetch (API, WHIP/WHEP).
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        ]
    )
    headers = {"Content-Security-Policy": policy}
    if not frame_ancestors:
        # For browsers without CSP frame-ancestors; it cannot express a list of origins.
        headers["X-Frame-Options"] = "DENY"
    return headers
