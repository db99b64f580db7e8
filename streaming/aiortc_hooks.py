"""Every use of aiortc's and aioice's private internals, in one place.

The relay needs a few things aiortc (1.16) does not expose. Each one is
reached only through a function of this module, so an upgrade that renames
one breaks here, and :func:`missing_hooks` (called by a test) says which:

============================================  ==============================================
private attribute                             why we need it
============================================  ==============================================
``RTCRtpReceiver.__decoder_queue``            take the host's encoded frames before any
                                              decoder sees them (:func:`tap_decoder_queue`)
``RTCRtpReceiver.__rtx_ssrc``                 leave RTX streams out of the SSRCs a PLI names
``RTCRtpReceiver._send_rtcp_pli(ssrc)``       ask the host for a keyframe (:func:`send_pli`)
``RTCRtpReceiver._send_rtcp_nack``,           the benchmark's counting viewers
``RTCRtpReceiver._handle_rtp_packet``         (``scripts/relay_peers.py``): see RTP, not frames
``RTCRtpSender._send_keyframe``               a viewer's PLI/FIR would only flag the sender's
                                              (unused) encoder; we forward it to the host
``RTCRtpSender.__rtx_payload_type``,          switch a connected viewer's sender to the host's
``RTCRtpSender.__encoder``,                   video codec when the host arrives
``RTCRtpTransceiver._codecs``                 (:class:`SenderCodec`)
``RTCPeerConnection.__connect``               the task aiortc starts per negotiation and never
                                              awaits: observed, so a peer closed while it
                                              connects leaves no "exception never retrieved"
                                              (:func:`observe_connect`)
aioice ``Connection`` (``_connection``) and   enlarge the kernel receive buffer of a publisher's
its ``_protocols``                            UDP sockets (:func:`ice_sockets`)
aioice ``Connection._query_consent_task``     aioice 0.13 starts consent checks when ICE
                                              completes even if the connection was closed
                                              meanwhile (and aiortc starts the senders'
                                              RTCP loops): tasks, and the peer, leaked per
                                              viewer that left while connecting; stopped
                                              by :func:`observe_connect`
============================================  ==============================================
"""

from __future__ import annotations

import asyncio
import copy
import logging
import queue
import socket
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

__all__ = [
    "SenderCodec",
    "ice_sockets",
    "missing_hooks",
    "observe_connect",
    "on_keyframe_request",
    "rtx_ssrcs",
    "on_rtp_packet",
    "send_nack",
    "send_pli",
    "tap_decoder_queue",
]

log = logging.getLogger("livecommerce.streaming")

_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RTX_SSRC = "_RTCRtpReceiver__rtx_ssrc"
_SEND_PLI = "_send_rtcp_pli"
_SEND_NACK = "_send_rtcp_nack"
_HANDLE_RTP = "_handle_rtp_packet"
_SEND_KEYFRAME = "_send_keyframe"
_SENDER_RTX_PT = "_RTCRtpSender__rtx_payload_type"
_SENDER_ENCODER = "_RTCRtpSender__encoder"
_TRANSCEIVER_CODECS = "_codecs"
_PC_CONNECT = "_RTCPeerConnection__connect"
_ICE_CONNECTION = "_connection"
_ICE_PROTOCOLS = "_protocols"
_ICE_CONSENT_TASK = "_query_consent_task"


def tap_decoder_queue(receiver: RTCRtpReceiver, replacement: queue.Queue[Any]) -> None:
    """Give ``receiver``'s decoder thread ``replacement`` as its queue (call it
    before the receiver starts: the thread is handed the queue then)."""
    if not hasattr(receiver, _DECODER_QUEUE):
        raise RuntimeError("this aiortc version has no RTCRtpReceiver decoder queue to tap")
    setattr(receiver, _DECODER_QUEUE, replacement)


def rtx_ssrcs(receiver: RTCRtpReceiver) -> set[int]:
    """The SSRCs ``receiver`` knows to be retransmission (RTX) streams."""
    return set(getattr(receiver, _RTX_SSRC, {}))


def send_pli(receiver: RTCRtpReceiver, ssrc: int) -> Coroutine[Any, Any, None]:
    """A coroutine sending one RTCP PLI for ``ssrc`` to the remote sender."""
    method: Callable[[int], Coroutine[Any, Any, None]] = getattr(receiver, _SEND_PLI)
    return method(ssrc)


def send_nack(receiver: RTCRtpReceiver, ssrc: int, lost: list[int]) -> Coroutine[Any, Any, None]:
    """A coroutine sending one RTCP NACK for the ``lost`` sequence numbers of ``ssrc``."""
    method: Callable[[int, list[int]], Coroutine[Any, Any, None]] = getattr(receiver, _SEND_NACK)
    return method(ssrc, lost)


def on_rtp_packet(
    receiver: RTCRtpReceiver, handler: Callable[[RtpPacket, int], Coroutine[Any, Any, None]]
) -> None:
    """Hand every RTP packet ``receiver`` gets to ``handler(packet, arrival_ms)``
    instead of its jitter buffer (a load generator's viewer that only counts)."""
    setattr(receiver, _HANDLE_RTP, handler)


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` (must not block) when the remote receiver of ``sender``
    sends a PLI or FIR, instead of flagging the sender's encoder."""
    setattr(sender, _SEND_KEYFRAME, callback)


class SenderCodec:
    """The video codec a viewer's sender packs with, changeable while it runs.

    aiortc's sender takes its codec once, when DTLS is up (``send()``: the
    first of the transceiver's negotiated codecs), and makes its packer from it
    at the first frame. A viewer that connected before the host may have
    negotiated VP8 *and* H.264; :meth:`use` retargets that codec object, the
    sender's RTX payload type and its packer, so the next frame goes out in the
    codec the host turned out to send — without renegotiation.

    Build it right after the answer is made (before the sender starts)."""

    def __init__(self, transceiver: RTCRtpTransceiver) -> None:
        self._sender = transceiver.sender
        codecs: list[RTCRtpCodecParameters] = getattr(transceiver, _TRANSCEIVER_CODECS)
        #: The negotiated codecs as answered (RTX entries included).
        self.negotiated = [copy.deepcopy(c) for c in codecs]
        # The sender reads ``codecs[0]`` (the same object) for every packet it sends.
        self._current = copy.deepcopy(codecs[0]) if codecs else None
        if self._current is not None:
            codecs[0] = self._current

    @property
    def mime(self) -> str | None:
        return None if self._current is None else self._current.mimeType

    def mimes(self) -> list[str]:
        """The video codecs negotiated, RTX left out."""
        return [c.mimeType for c in self.negotiated if c.mimeType.lower() != "video/rtx"]

    def use(self, mime: str) -> bool:
        """Send ``mime`` from the next frame on; False if it was not negotiated."""
        target = next((c for c in self.negotiated if c.mimeType.lower() == mime.lower()), None)
        if target is None or self._current is None:
            return False
        if self._current.payloadType == target.payloadType:
            return True
        for name in ("mimeType", "clockRate", "channels", "payloadType", "parameters"):
            setattr(self._current, name, copy.deepcopy(getattr(target, name)))
        self._current.rtcpFeedback = list(target.rtcpFeedback)
        rtx = next(
            (
                c.payloadType
                for c in self.negotiated
                if c.mimeType.lower() == "video/rtx"
                and c.parameters.get("apt") == target.payloadType
            ),
            None,
        )
        setattr(self._sender, _SENDER_RTX_PT, rtx)
        setattr(self._sender, _SENDER_ENCODER, None)  # a new packer for the new codec
        return True


def observe_connect(pc: RTCPeerConnection) -> None:
    """Retrieve the outcome of the connect task aiortc starts on
    ``setLocalDescription``. aiortc never awaits it, so when the peer is closed
    while ICE/DTLS are starting its ``InvalidStateError('RTCIceTransport is
    closed')`` became asyncio's "Task exception was never retrieved"."""
    original: Callable[[], Coroutine[Any, Any, None]] = getattr(pc, _PC_CONNECT)

    def closed() -> bool:
        return pc.connectionState == "closed" or pc.signalingState == "closed"

    async def connect() -> None:
        try:
            await original()
        except Exception as exc:
            if closed():
                log.debug("peer closed while connecting: %r", exc)
            else:
                # ICE or DTLS failed: the remote peer's problem, not the server's.
                log.info("peer connection failed while connecting: %r", exc)
                await pc.close()
        finally:
            if closed():
                await _stop_what_started_after_close(pc)

    setattr(pc, _PC_CONNECT, connect)


async def _stop_what_started_after_close(pc: RTCPeerConnection) -> None:
    """Stop what the connect task started after ``pc`` was closed, which would
    run, and hold the peer, forever: senders and receivers it started once
    DTLS was up (``close()`` had already stopped them, before they started),
    and aioice's consent checks."""
    for transceiver in pc.getTransceivers():
        await transceiver.sender.stop()  # both are no-ops unless started
        await transceiver.receiver.stop()
    for connection in _ice_connections(pc):
        task: asyncio.Task[None] | None = getattr(connection, _ICE_CONSENT_TASK, None)
        if task is not None and not task.done():
            task.cancel()


def _ice_connections(pc: RTCPeerConnection) -> Iterator[Any]:
    for transceiver in pc.getTransceivers():
        connection = getattr(transceiver.receiver.transport.transport, _ICE_CONNECTION, None)
        if connection is not None:
            yield connection


def ice_sockets(pc: RTCPeerConnection) -> Iterator[socket.socket]:
    """The UDP sockets of ``pc``'s ICE connections (exist once candidates are gathered)."""
    for connection in _ice_connections(pc):
        for protocol in getattr(connection, _ICE_PROTOCOLS, ()):
            transport = getattr(protocol, "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is not None:
                yield sock


async def missing_hooks() -> list[str]:
    """The private attributes above that the installed aiortc/aioice lack ([] when
    all are there). Builds and closes a throwaway peer connection."""
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendrecv")
        receiver, sender = transceiver.receiver, transceiver.sender
        wanted: list[tuple[object, str]] = [
            (receiver, _DECODER_QUEUE),
            (receiver, _RTX_SSRC),
            (receiver, _SEND_PLI),
            (receiver, _SEND_NACK),
            (receiver, _HANDLE_RTP),
            (sender, _SEND_KEYFRAME),
            (sender, _SENDER_RTX_PT),
            (sender, _SENDER_ENCODER),
            (transceiver, _TRANSCEIVER_CODECS),
            (pc, _PC_CONNECT),
            (receiver.transport.transport, _ICE_CONNECTION),
        ]
        missing = [f"{type(o).__name__}.{name}" for o, name in wanted if not hasattr(o, name)]
        connection = getattr(receiver.transport.transport, _ICE_CONNECTION, None)
        for name in (_ICE_PROTOCOLS, _ICE_CONSENT_TASK):
            if connection is not None and not hasattr(connection, name):
                missing.append(f"{type(connection).__name__}.{name}")
        return missing
    finally:
        await pc.close()
