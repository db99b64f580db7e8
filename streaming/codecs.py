"""Which codecs the relay forwards, and what it must know about their bitstreams.

The relay never decodes, so it can only forward a codec that aiortc can
depacketize (receiver side) and packetize (the sender's ``pack``): VP8 and
H.264 for video, Opus for audio. Viewers must negotiate exactly the
publisher's video codec when it sends; the helpers here build the codec
preferences of the SDP answers.
"""

from __future__ import annotations

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

__all__ = [
    "AUDIO_MIME",
    "CLOCK_RATES",
    "VIDEO_MIMES",
    "audio_preferences",
    "is_keyframe",
    "video_preferences",
    "vp8_frame_size",
]

#: Video codecs we relay, in the order we prefer them when the offer allows both.
VIDEO_MIMES = ("video/VP8", "video/H264")
AUDIO_MIME = "audio/opus"
#: RTP clock rate per kind (the ``pts`` unit of the packets handed to senders).
CLOCK_RATES = {"video": 90000, "audio": 48000}

_H264_IDR = 5
_H264_SPS = 7


def video_preferences(first: str | None = None) -> list[RTCRtpCodecCapability]:
    """Codec preferences for a video transceiver: every relayable codec (every
    profile aiortc has of each) plus RTX, ``first`` (the host's codec) first.

    A viewer answered with several codecs keeps watching when the host's codec
    turns out, or changes, to another of them: its sender switches (see
    :class:`~streaming.aiortc_hooks.SenderCodec`)."""
    wanted = [m.lower() for m in VIDEO_MIMES]
    if first is not None and first.lower() in wanted:
        wanted.remove(first.lower())
        wanted.insert(0, first.lower())
    caps = RTCRtpSender.getCapabilities("video").codecs
    chosen = [c for w in wanted for c in caps if c.mimeType.lower() == w]
    return chosen + [c for c in caps if c.mimeType.lower() == "video/rtx"]


def audio_preferences() -> list[RTCRtpCodecCapability]:
    caps = RTCRtpSender.getCapabilities("audio").codecs
    return [c for c in caps if c.mimeType.lower() == AUDIO_MIME]


def is_keyframe(mime: str, data: bytes) -> bool:
    """Whether one depacketized frame can start a decode (no earlier frame needed).

    VP8: bit 0 of the first byte is 0 for a key frame (RFC 6386 §9.1).
    H.264 (Annex B, as aiortc depacketizes it): the access unit has an IDR slice
    or a sequence parameter set (encoders send SPS/PPS with every IDR)."""
    if not data:
        return False
    name = mime.lower()
    if name == "video/vp8":
        return data[0] & 0x01 == 0
    if name == "video/h264":
        return _h264_has_idr(data)
    return True  # audio: every Opus packet stands alone


def vp8_frame_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of a VP8 key frame (RFC 6386 §9.1: start code
    9d 01 2a, then 14-bit width and height); None for any other frame."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    return (data[6] | data[7] << 8) & 0x3FFF, (data[8] | data[9] << 8) & 0x3FFF


def _h264_has_idr(data: bytes) -> bool:
    pos = data.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(data):
        nal_type = data[pos + 3] & 0x1F
        if nal_type in (_H264_IDR, _H264_SPS):
            return True
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return False
