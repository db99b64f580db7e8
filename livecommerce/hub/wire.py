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

The same handle closes a connection whose socket is backed up: the close frame
is written at once (behind what the kernel already holds, not behind a send
waiting for room), and after a grace the transport is aborted, so a client
that never reads again does not keep its buffers. And a client's text frame
that is not UTF-8 is closed with 1007 without uvicorn's error-level traceback.

Every use of uvicorn's private ``websockets-sansio`` internals is in this
module; :data:`UVICORN_PRIVATE_HOOKS` lists them (a test checks they exist).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = [
    "UVICORN_PRIVATE_HOOKS",
    "WIRE_EXTENSION",
    "HubWebSocketProtocol",
    "RawWire",
]

log = logging.getLogger("livecommerce.hub")

#: The attributes and methods of uvicorn's ``WebSocketsSansIOProtocol`` this module relies
#: on beyond the ASGI interface (private: an upgrade may rename them).
UVICORN_PRIVATE_HOOKS: tuple[str, ...] = (
    "close_sent",
    "close_timeout",
    "close_timer",
    "conn",
    "curr_msg_data_type",
    "disconnected",
    "frames",
    "handle_parser_exception",
    "handshake_complete",
    "loop",
    "queue",
    "read_paused",
    "run_asgi",
    "scope",
    "send_receive_event_to_app",
    "transport",
)

#: The ASGI scope extension holding ``{"wire": RawWire}``.
WIRE_EXTENSION = "livecommerce.wire"

#: ``SO_LINGER`` on, 0 s: close() resets the connection and drops unsent data.
_LINGER_RESET = struct.pack("ii", 1, 0)


class RawWire:
    """Direct writes of prebuilt frames (:func:`~livecommerce.hub.frames.text_frame`)
    to one accepted WebSocket's transport: the :class:`~livecommerce.hub.frames.Wire`
    the hub's outboxes use."""

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

    def close(self, code: int, reason: str, *, abort_after: float) -> bool:
        """Write a close frame now, even if the socket is backed up (a send waiting for
        room is dropped); abort the transport if the peer has not taken it within
        ``abort_after`` seconds. False if the connection is already closing."""
        return self._protocol.close_now(code, reason, abort_after=abort_after)

    def abort_after(self, delay: float) -> None:
        """Abort the transport (drop its buffers) unless it is gone within ``delay`` s."""
        self._protocol.abort_after(delay)


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol, offering a :class:`RawWire` to the app."""

    #: True while the transport's buffer is above its high-water mark.
    write_paused = False
    #: Aborts the transport of a connection that did not finish closing in time.
    abort_timer: asyncio.TimerHandle | None = None

    def close_now(self, code: int, reason: str, *, abort_after: float) -> bool:
        """What uvicorn does for an ASGI ``websocket.close``, without first waiting for
        the socket to drain (a peer that never reads would keep that wait, and the
        connection, forever)."""
        if (
            self.close_sent
            or self.disconnected
            or not self.handshake_complete
            or self.transport.is_closing()
        ):
            return False
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:  # read on: the peer's close reply ends the handshake
            self.read_paused = False
            self.transport.resume_reading()
        # As uvicorn: the peer's close reply (or its timer) closes the transport once
        # the buffer has flushed; and if it never flushes, the abort drops it.
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
        self.abort_after(abort_after)
        return True

    def abort_after(self, delay: float) -> None:
        if self.abort_timer is None and not self.disconnected:
            self.abort_timer = self.loop.call_later(delay, self._abort)

    def _abort(self) -> None:
        self.abort_timer = None
        if not self.disconnected:
            log.debug("hub: aborting a connection that did not close in time")
            # A plain close of a socket with unsent data leaves the kernel retrying it
            # (an orphan holding the buffers for minutes); linger 0 resets the
            # connection and frees them now.
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.abort_timer is not None:
            self.abort_timer.cancel()
            self.abort_timer = None
        super().connection_lost(exc)

    def send_receive_event_to_app(self) -> None:
        # uvicorn logs a client's invalid UTF-8 text frame with a traceback at ERROR
        # level; it is the client's mistake: close with 1007 and log at debug.
        if self.curr_msg_data_type == "text" and not self.close_sent:
            data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
            try:
                text = data.decode()
            except UnicodeDecodeError:
                self.frames = []
                log.debug("hub: a client sent a text frame that is not UTF-8")
                self.conn.send_close(1007, "text frames must be UTF-8")
                self.handle_parser_exception()
                return
            self.frames = []
            self.queue.put_nowait({"type": "websocket.receive", "text": text})
            if not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()
            return
        super().send_receive_event_to_app()

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
