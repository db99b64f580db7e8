"""Take encoded frames out of an aiortc receiver before anything decodes them.

``RTCRtpReceiver`` depacketizes RTP into its jitter buffer and puts each
complete encoded frame, with its codec, on a queue read by a decoder thread
(aiortc 1.16: ``RTCRtpReceiver._handle_rtp_packet`` → ``__decoder_queue`` →
``decoder_worker``). :func:`tap_receiver` swaps that queue for one that hands
the frames to a callback on the event loop instead, so NACKs, RTCP reports,
REMB and the jitter buffer keep working while no decoder ever runs. The
decoder thread still starts, but only waits for the stop sentinel.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from streaming.aiortc_hooks import rtx_ssrcs, tap_decoder_queue

__all__ = ["EncodedFrameTap", "FrameCallback", "publisher_ssrcs", "tap_receiver"]

log = logging.getLogger("livecommerce.streaming")

#: ``callback(codec, frame)``: ``frame.data`` is the depacketized frame,
#: ``frame.timestamp`` its RTP timestamp counted from the stream's first frame.
FrameCallback = Callable[[RTCRtpCodecParameters, JitterFrame], None]


class EncodedFrameTap(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue; only the stop sentinel is queued."""

    def __init__(self, callback: FrameCallback) -> None:
        super().__init__()
        self._callback = callback

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None, block, timeout)  # lets the idle decoder thread exit
            return
        codec, frame = item
        try:
            self._callback(codec, frame)
        except Exception:  # a relay bug must not kill the publisher's transport
            log.exception("encoded frame callback failed")


def tap_receiver(receiver: RTCRtpReceiver, callback: FrameCallback) -> None:
    """Route ``receiver``'s encoded frames to ``callback`` instead of a decoder.

    Call it before the receiver starts, i.e. before ``setLocalDescription``
    (the receiver's decoder thread is given the queue when it starts)."""
    tap_decoder_queue(receiver, EncodedFrameTap(callback))


def publisher_ssrcs(receiver: RTCRtpReceiver) -> list[int]:
    """The media SSRCs the receiver heard recently (RTX streams left out):
    the ones a PLI must name."""
    rtx = rtx_ssrcs(receiver)
    return [s.source for s in receiver.getSynchronizationSources() if s.source not in rtx]
