"""One WebSocket frame built once, written to many sockets.

Every viewer of a session gets the same frames. Through ASGI each
``websocket.send`` re-encodes the text and re-frames it per connection (about
as costly as the write itself); here the server frame (RFC 6455: FIN, opcode,
unmasked length, payload) is built once per event and the same bytes go to
every socket with ``transport.write``.

The transport is reached through :class:`HubWebSocketProtocol`, uvicorn's
``websockets-sansio`` protocol with one addition: when no extension (such as
permessage-deflate) was negotiated, it puts a :class:`RawWire` in the ASGI
scope's ``extensions`` under :data:`WIRE_EXTENSION`. Without it (another
server or implementation, compression on) the hub uses plain ASGI sends.
Frames written here and frames the protocol writes (pongs, close) never
interleave: each is one whole ``transport.write`` on the event loop thread.
"""

from __future__ import annotations

import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["WIRE_EXTENSION", "HubWebSocketProtocol", "RawWire", "text_frame"]

#: The ASGI scope extension holding ``{"wire": RawWire}``.
WIRE_EXTENSION = "livecommerce.wire"

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


class RawWire:
    """Direct writes of prebuilt frames to one accepted WebSocket's transport."""

    __slots__ = ("_protocol", "_transport")

    def __init__(self, protocol: HubWebSocketProtocol) -> None:
        self._protocol = protocol
        self._transport = protocol.transport

    def write(self, frame: bytes) -> bool:
        """Write ``frame`` unless the connection is closing, not open yet, or its socket
        is backed up (past the transport's high-water mark); False: nothing was written,
        the caller takes the ASGI path, which waits, queues or fails as usual. So the
        socket buffer never grows past the mark here, and a slow viewer's backlog stays
        in its outbox as shared references, bounded as before."""
        protocol = self._protocol
        if (
            protocol.write_paused
            or protocol.close_sent
            or protocol.disconnected
            or not protocol.handshake_complete
            or self._transport.is_closing()
        ):
            return False
        self._transport.write(frame)
        return True


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol, offering a :class:`RawWire` to the app."""

    #: True while the transport's buffer is above its high-water mark.
    write_paused = False

    def pause_writing(self) -> None:
        self.write_paused = True
        super().pause_writing()

    def resume_writing(self) -> None:
        self.write_paused = False
        super().resume_writing()

    async def run_asgi(self) -> None:
        # A negotiated extension (compression) transforms every frame: no shared bytes.
        if not self.conn.extensions:
            extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
            extensions[WIRE_EXTENSION] = {"wire": RawWire(self)}
        await super().run_asgi()
