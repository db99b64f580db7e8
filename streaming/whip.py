"""WHIP publisher resources (RFC 9725): the host's peer connection, tapped.

The publisher's receivers are tapped before they start (see
:mod:`streaming.tap`), so its video and audio arrive at the session's
:class:`~streaming.relay.SessionRelay` as encoded frames and are never
decoded. Keyframe requests from the relay become RTCP PLIs to the host.

:attr:`Publisher.idle_s` is how long the host has sent no media: the
component lets the show's host replace a publisher idle for
``STREAM_PUBLISHER_IDLE_S`` (an encoder that died without a DELETE).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from streaming.aiortc_hooks import send_pli
from streaming.codecs import audio_preferences, video_preferences
from streaming.ice import enlarge_receive_buffers
from streaming.peer import PeerResource, negotiate
from streaming.relay import SessionRelay
from streaming.sdp import answer_video_mime, offer_kinds, with_start_bitrate
from streaming.tap import FrameCallback, publisher_ssrcs, tap_receiver

__all__ = ["Publisher"]

log = logging.getLogger("livecommerce.streaming")


class Publisher(PeerResource):
    """Build with :meth:`open`; the relay is attached once the answer is made.

    Subclasses may override :meth:`_receive` to consume the host's media some
    other way (the benchmark's decoding baseline in ``scripts/relay_baseline.py``)."""

    def __init__(
        self,
        *,
        session_id: int,
        pc: RTCPeerConnection,
        relay: SessionRelay,
        on_closed: Callable[[PeerResource], Awaitable[None]],
    ) -> None:
        super().__init__(session_id=session_id, pc=pc, relay=relay, on_closed=on_closed)
        self._video_receiver: RTCRtpReceiver | None = None
        self._audio_receiver: RTCRtpReceiver | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Monotonic time of the last frame from the host (of its creation until one arrives).
        self._last_media = time.monotonic()

    @classmethod
    async def open(
        cls,
        offer: RTCSessionDescription,
        *,
        session_id: int,
        relay: SessionRelay,
        configuration: RTCConfiguration,
        on_closed: Callable[[PeerResource], Awaitable[None]],
        start_kbps: int = 0,
    ) -> Publisher:
        """Answer the host's offer and start relaying; 400 if it cannot be answered.
        ``start_kbps`` (0: don't) tells browsers the video bitrate to start at."""
        pc = RTCPeerConnection(configuration)
        self = cls(session_id=session_id, pc=pc, relay=relay, on_closed=on_closed)
        try:
            for kind in offer_kinds(offer):
                transceiver = pc.addTransceiver(kind, direction="recvonly")
                if kind == "video":
                    transceiver.setCodecPreferences(video_preferences())
                    self._video_receiver = transceiver.receiver
                else:
                    transceiver.setCodecPreferences(audio_preferences())
                    self._audio_receiver = transceiver.receiver
                self._receive(transceiver)
            answer = await negotiate(pc, offer)
            self.answer = with_start_bitrate(answer, start_kbps) if start_kbps else answer
        except BaseException:
            await pc.close()
            raise
        enlarge_receive_buffers(pc)
        self.video_mime = answer_video_mime(self.answer)
        relay.attach_publisher(video_mime=self.video_mime, send_pli=self._send_pli)
        return self

    def _receive(self, transceiver: RTCRtpTransceiver) -> None:
        """Route the host's media of this transceiver to the relay (called before
        the answer is made): its encoded frames, never decoded."""
        tap_receiver(transceiver.receiver, self._forward(transceiver.kind))

    def _forward(self, kind: str) -> FrameCallback:
        on_frame = self.relay.on_frame

        def forward(codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
            if not self.closed:
                self._last_media = time.monotonic()
                on_frame(kind, codec.mimeType, frame.data, frame.timestamp)

        return forward

    @property
    def idle_s(self) -> float:
        """Seconds since the host's last frame (since this resource was made, before one)."""
        return time.monotonic() - self._last_media

    def _send_pli(self) -> None:
        receiver = self._video_receiver
        if receiver is None or self.closed:
            return
        for ssrc in publisher_ssrcs(receiver):
            task = asyncio.ensure_future(send_pli(receiver, ssrc))
            self._tasks.add(task)
            task.add_done_callback(self._pli_done)

    def _pli_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The transport closed under it: the host is going away, nothing to report.
            log.debug("PLI to the host not sent: %r", task.exception())

    async def inbound_stats(self) -> tuple[int, int]:
        """``(packets_received, packets_lost)`` of the host's video and audio so far."""
        received = lost = 0
        for receiver in (self._video_receiver, self._audio_receiver):
            if receiver is None or self.closed:
                continue
            report = await receiver.getStats()
            for stats in report.values():
                if getattr(stats, "type", None) == "inbound-rtp":
                    received += stats.packetsReceived
                    lost += max(0, stats.packetsLost)
        return received, lost

    def release(self) -> None:
        for task in self._tasks:
            task.cancel()
        self.relay.detach_publisher(self._send_pli)
