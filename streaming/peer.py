"""What WHIP publishers and WHEP viewers share: a peer connection behind a
resource URL, answered once, freed exactly once.

A resource is freed on ``DELETE``, when its peer connection fails or closes
(ICE consent lost, DTLS closed), and at component stop; :meth:`PeerResource.close`
is idempotent and tells the owner through ``on_closed`` so the registry and
the relay forget it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError

from livecommerce.errors import BadRequest
from streaming.aiortc_hooks import observe_connect

if TYPE_CHECKING:
    from streaming.relay import SessionRelay

__all__ = ["PeerResource", "negotiate"]

log = logging.getLogger("livecommerce.streaming")

_NEGOTIATION_ERRORS = (ValueError, OperationError, InvalidAccessError, InvalidStateError)


async def negotiate(pc: RTCPeerConnection, offer: RTCSessionDescription) -> str:
    """Apply ``offer`` and return the SDP answer (with all host candidates: no
    trickle needed). An offer aiortc rejects becomes a 400; the caller must
    close ``pc`` if this raises."""
    observe_connect(pc)
    try:
        await pc.setRemoteDescription(offer)
    except _NEGOTIATION_ERRORS as exc:
        raise BadRequest(f"the SDP offer cannot be answered: {exc or type(exc).__name__}") from exc
    answer = await pc.createAnswer()
    await pc.setLocalDescription(answer)
    return pc.localDescription.sdp


class PeerResource:
    """A WHIP or WHEP resource: ``id`` names it in its ``Location`` URL; ``relay``
    is its session's relay, ``video_mime`` the video codec once negotiated."""

    def __init__(
        self,
        *,
        session_id: int,
        pc: RTCPeerConnection,
        relay: SessionRelay,
        on_closed: Callable[[PeerResource], Awaitable[None]],
    ) -> None:
        self.id = secrets.token_urlsafe(18)
        self.etag = f'"{secrets.token_hex(8)}"'
        self.session_id = session_id
        self.pc = pc
        self.relay = relay
        self.video_mime: str | None = None
        self.answer = ""
        self.closed = False
        self._on_closed = on_closed
        pc.on("connectionstatechange", self._state_changed)

    async def _state_changed(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            log.info(
                "%s %s of session %s: connection %s",
                type(self).__name__,
                self.id,
                self.session_id,
                self.pc.connectionState,
            )
            await self.close()

    def release(self) -> None:
        """Give back relay resources (tracks, hooks); subclasses override."""

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.release()
        finally:
            await self.pc.close()
            await self._on_closed(self)
