"""WebSocket frames built once for many sockets, and the interface that writes them.

Every viewer of a session gets the same frames, so a server text frame (RFC 6455:
FIN, opcode, unmasked length, payload) is built once per event (:func:`text_frame`)
and the same bytes go to every socket through a :class:`Wire`. The one
implementation is :class:`~livecommerce.hub.wire.RawWire`, on uvicorn's protocol;
the rooms and outboxes only know this interface, so the hub's rules do not import
the web server.
"""

from __future__ import annotations

import struct
from typing import Protocol

__all__ = ["Wire", "text_frame"]

_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")
_FIN_TEXT = 0x81


def text_frame(payload: bytes) -> bytes:
    """A whole unmasked, unfragmented server text frame carrying ``payload`` (UTF-8)."""
    size = len(payload)
    if size < 126:
        return _SHORT.pack(_FIN_TEXT, size) + payload
    if size < 1 << 16:
        return _MEDIUM.pack(_FIN_TEXT, 126, size) + payload
    return _LONG.pack(_FIN_TEXT, 127, size) + payload


class Wire(Protocol):
    """Direct writes of prebuilt frames to one accepted WebSocket."""

    def write(self, frame: bytes) -> bool:
        """Write ``frame`` now, or return False (closing, not open, or backed up): the
        caller then takes the ASGI path, which waits, queues or fails as usual."""
        ...

    def close(self, code: int, reason: str, *, abort_after: float) -> bool:
        """Write a close frame now, even if the socket is backed up; abort the transport
        if the peer has not taken it within ``abort_after`` s. False if already closing."""
        ...

    def abort_after(self, delay: float) -> None:
        """Abort the transport (drop its buffers) unless it is gone within ``delay`` s."""
        ...
