"""The HTTP/1.1 connection: uvicorn's httptools protocol with the edge's rules.

What uvicorn answers itself, before the app sees a request, follows the API's
rules too:

* a request that is not valid HTTP/1.1 gets ``400`` problem+json (uvicorn's own
  answer is ``text/plain "Invalid HTTP request received."``);
* a request head (request line + headers) larger than ``MAX_HEAD_BYTES`` gets ``431``
  problem+json (httptools sets no bound: a client could send headers for ever);
* a connection that has not sent a complete request head within the header
  deadline (slowloris, or an idle socket) gets ``408`` problem+json and is closed.

What this class relies on of ``uvicorn.protocols.http.httptools_impl.HttpToolsProtocol``
(uvicorn 0.54) beyond the asyncio protocol interface is :data:`UVICORN_PRIVATE_HOOKS`
(a test checks they exist): the httptools parser callbacks ``on_message_begin``,
``on_url``, ``on_header``, ``on_headers_complete``; ``send_400_response(msg)``, which
``data_received`` calls when the parser raises ``HttpParserError`` (an exception raised
in a callback included); and the attributes ``transport`` and ``loop``.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from livecommerce import encoding
from livecommerce.errors import BadRequest, LivecommerceError, RequestTimeout

__all__ = [
    "MAX_HEAD_BYTES",
    "UVICORN_PRIVATE_HOOKS",
    "EdgeHttpProtocol",
    "HeadTooLarge",
    "edge_protocol",
]

#: Methods and attributes of uvicorn's ``HttpToolsProtocol`` this module overrides or
#: uses beyond the asyncio protocol interface (private: an upgrade may rename them).
UVICORN_PRIVATE_HOOKS: tuple[str, ...] = (
    "loop",
    "on_header",
    "on_headers_complete",
    "on_message_begin",
    "on_url",
    "send_400_response",
    "transport",
)

#: Request line plus headers, bytes. Browsers send a few KiB; 64 KiB leaves room for
#: long query strings and cookies without letting a head grow without bound.
MAX_HEAD_BYTES = 64 * 1024


class HeadTooLarge(LivecommerceError):
    status, code, title = 431, "header_too_large", "Request Header Fields Too Large"


class _HeadOverflow(Exception):
    """Raised from a parser callback; httptools turns it into ``HttpParserError``."""


def problem_bytes(error: LivecommerceError) -> bytes:
    """A complete HTTP/1.1 response carrying ``error`` as problem+json; closes."""
    body = encoding.dumps(error.problem())
    reason = HTTPStatus(error.status).phrase
    head = (
        f"HTTP/1.1 {error.status} {reason}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n"
    ).encode("ascii")
    return head + b"\r\n" + body


class EdgeHttpProtocol(HttpToolsProtocol):
    """Build with :func:`edge_protocol`, which sets the header deadline."""

    #: Seconds to send a complete request head; 0 turns the deadline off.
    header_timeout_s: float = 10.0

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_overflow = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        error: LivecommerceError
        if self._head_overflow:
            error = HeadTooLarge(f"the request line and headers exceed {MAX_HEAD_BYTES} bytes")
        else:
            error = BadRequest("the request is not valid HTTP/1.1")
        self._close_with(error)

    def _count_head(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > MAX_HEAD_BYTES:
            self._head_overflow = True
            raise _HeadOverflow

    def _arm_head_timer(self) -> None:
        if self.header_timeout_s > 0:
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        self._close_with(
            RequestTimeout(f"the request head was not complete within {self.header_timeout_s} s")
        )

    def _close_with(self, error: LivecommerceError) -> None:
        self._cancel_head_timer()
        if self.transport.is_closing():
            return
        self.transport.write(problem_bytes(error))
        self.transport.close()


def edge_protocol(*, header_timeout_s: float) -> type[EdgeHttpProtocol]:
    """The protocol class uvicorn instantiates per connection, with its deadline."""
    return type("EdgeHttpProtocol", (EdgeHttpProtocol,), {"header_timeout_s": header_timeout_s})
