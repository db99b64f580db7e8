"""An edge's pull of a show from its upstream node, as one WHEP viewer.

A node whose viewers watch a show published elsewhere pulls that show from
its origin (or, past ``STREAM_ORIGIN_MAX_EDGES``, from another edge) with one
WHEP request, like any viewer, and feeds what it receives into its own
:class:`~streaming.relay.SessionRelay` exactly as a host's publisher does:
the receivers are tapped (:mod:`streaming.tap`), encoded frames go to
``relay.on_frame`` and are never decoded, and the relay's keyframe requests
(already rate-limited per session) become PLIs to the upstream node, whose
relay passes them on to the host.

The WHEP request carries ``X-Livecommerce-Edge: <node id>.<signature>`` (an
HMAC of the show and the node id with ``SECRET_KEY``, which every node shares),
so the upstream counts it as an edge, not as a viewer; a viewer cannot claim to
be an edge (:func:`edge_of`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from streaming.aiortc_hooks import send_pli
from streaming.client import post_offer
from streaming.codecs import audio_preferences, video_preferences
from streaming.ownership import NodeRef
from streaming.relay import SessionRelay
from streaming.sdp import answer_video_mime
from streaming.tap import FrameCallback, publisher_ssrcs, tap_receiver

__all__ = ["EDGE_HEADER", "Upstream", "UpstreamRefused", "edge_claim", "edge_of"]

log = logging.getLogger("livecommerce.streaming")

#: Request header naming the edge node that sends a WHEP offer to pull a show.
EDGE_HEADER = "X-Livecommerce-Edge"


def _signature(secret: str, session_id: int, node_id: str) -> str:
    message = f"edge:{session_id}:{node_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def edge_claim(secret: str, session_id: int, node_id: str) -> str:
    """The ``X-Livecommerce-Edge`` value of node ``node_id`` pulling ``session_id``."""
    return f"{node_id}.{_signature(secret, session_id, node_id)}"


def edge_of(secret: str, session_id: int, claim: str | None) -> str | None:
    """The node id of a genuine edge's claim; None for a viewer (no or a forged claim)."""
    if not claim:
        return None
    node_id, _, signature = claim.rpartition(".")
    expected = _signature(secret, session_id, node_id)
    return node_id if node_id and hmac.compare_digest(signature, expected) else None


class UpstreamRefused(Exception):
    """The upstream node did not answer the edge's WHEP offer with 201."""


class Upstream:
    """Build with :meth:`open`; :meth:`close` is idempotent and calls ``on_closed``.
    ``on_codec(mime)`` is called when the upstream's video codec changes (the
    host came back with another codec)."""

    def __init__(
        self,
        *,
        session_id: int,
        source: NodeRef,
        relay: SessionRelay,
        pc: RTCPeerConnection,
        on_closed: Callable[[Upstream], Awaitable[None]],
        on_codec: Callable[[int, str], None],
    ) -> None:
        self.session_id = session_id
        self.source = source
        self.relay = relay
        self.pc = pc
        self.closed = False
        self.video_mime: str | None = None
        self.location: str | None = None
        self._on_closed = on_closed
        self._on_codec = on_codec
        self._video_receiver: RTCRtpReceiver | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._last_media = time.monotonic()
        self._attached = False
        #: A keyframe was asked for before upstream's RTP named its SSRC: sent on the
        #: first video frame instead of lost (the limiter upstream counted it as sent).
        self._pli_owed = False
        pc.on("connectionstatechange", self._state_changed)

    @classmethod
    async def open(
        cls,
        *,
        session_id: int,
        source: NodeRef,
        relay: SessionRelay,
        configuration: RTCConfiguration,
        http: httpx.AsyncClient,
        claim: str,
        on_closed: Callable[[Upstream], Awaitable[None]],
        on_codec: Callable[[int, str], None],
    ) -> Upstream:
        """POST a WHEP offer to ``source``; call :meth:`attach` next to feed ``relay``
        (or :meth:`close`). Raises :class:`UpstreamRefused` or ``httpx.HTTPError``
        when the source cannot be pulled from (nothing is left behind then)."""
        pc = RTCPeerConnection(configuration)
        self = cls(
            session_id=session_id,
            source=source,
            relay=relay,
            pc=pc,
            on_closed=on_closed,
            on_codec=on_codec,
        )
        self._http = http
        try:
            video = pc.addTransceiver("video", direction="recvonly")
            video.setCodecPreferences(video_preferences(relay.video_mime))
            self._video_receiver = video.receiver
            tap_receiver(video.receiver, self._forward("video"))
            audio = pc.addTransceiver("audio", direction="recvonly")
            audio.setCodecPreferences(audio_preferences())
            tap_receiver(audio.receiver, self._forward("audio"))
            response = await post_offer(
                http,
                f"{source.url}/whep/{session_id}",
                pc,
                headers={EDGE_HEADER: claim},
            )
            if response.status_code != 201:
                raise UpstreamRefused(f"{source.url}: {response.status_code} {response.text}")
            self.location = source.url + response.headers["location"]
            self.video_mime = answer_video_mime(response.text)
        except BaseException:
            self.closed = True
            await pc.close()
            raise
        return self

    def attach(self) -> None:
        """Become the relay's publisher: frames flow to it from now on. Call it
        only while nobody publishes the show on this node (no await between the
        check and this call)."""
        self._attached = True
        self.relay.attach_publisher(video_mime=self.video_mime, send_pli=self._send_pli)
        log.info("session %s: edge pulling from node %s", self.session_id, self.source.id)

    def _forward(self, kind: str) -> FrameCallback:
        def forward(codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
            if self.closed or not self._attached:
                return
            self._last_media = time.monotonic()
            if kind == "video" and self._pli_owed:
                self._pli_owed = False
                self._send_pli()
            mime = codec.mimeType
            if kind == "video" and self.video_mime is not None and mime != self.video_mime:
                self.video_mime = mime
                self._on_codec(self.session_id, mime)
            self.relay.on_frame(kind, mime, frame.data, frame.timestamp)

        return forward

    @property
    def idle_s(self) -> float:
        """Seconds since the last frame from upstream (since the pull began, before one)."""
        return time.monotonic() - self._last_media

    def _send_pli(self) -> None:
        receiver = self._video_receiver
        if receiver is None or self.closed:
            return
        ssrcs = publisher_ssrcs(receiver)
        if not ssrcs:
            self._pli_owed = True
            return
        for ssrc in ssrcs:
            task = asyncio.ensure_future(send_pli(receiver, ssrc))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(_quiet)

    async def _state_changed(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            await self.close()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in self._tasks:
            task.cancel()
        if self._attached:
            self.relay.detach_publisher(self._send_pli)
        try:
            await self.pc.close()
            if self.location is not None and self._http is not None:
                # Free our viewer slot upstream now rather than after ICE consent expires.
                try:
                    await self._http.delete(self.location, timeout=2.0)
                except httpx.HTTPError:
                    pass  # the upstream is gone: nothing to free
        finally:
            await self._on_closed(self)


def _quiet(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("PLI upstream not sent: %r", task.exception())
