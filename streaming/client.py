"""A minimal WHIP/WHEP client over httpx, for tests, benchmarks and demos.

Build an ``RTCPeerConnection`` with the transceivers you want (a publisher
adds its tracks, a viewer adds ``recvonly`` transceivers), then call
:func:`post_offer`: it makes the offer (with every host candidate, no
trickle), POSTs it as ``application/sdp`` and applies the answer on 201.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription

from streaming.aiortc_hooks import observe_connect
from streaming.sdp import SDP_MEDIA_TYPE

__all__ = ["post_offer"]


async def post_offer(
    client: httpx.AsyncClient,
    url: str,
    pc: RTCPeerConnection,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST ``pc``'s offer to a WHIP or WHEP endpoint. On ``201`` the answer is
    applied and ``response.headers["Location"]`` names the resource to DELETE;
    any other response is returned untouched for the caller to check. ``headers``
    are sent too (an edge names itself with ``X-Livecommerce-Edge``)."""
    observe_connect(pc)  # closing it while it connects must not leave a failed task behind
    await pc.setLocalDescription(await pc.createOffer())
    sent = {**(headers or {}), "Content-Type": SDP_MEDIA_TYPE}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    response = await client.post(url, content=pc.localDescription.sdp, headers=sent)
    if response.status_code == 201:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
    return response
