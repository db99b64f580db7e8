"""SDP checks at the HTTP boundary: a bad offer is a clear 400, never a 500.

aiortc's parser accepts almost anything (an empty string parses to a
description without media) and asserts on some malformed lines, so offers
are checked here first, against what WHIP/WHEP and the relay need.
"""

from __future__ import annotations

from typing import Literal

from aiortc import RTCSessionDescription
from aiortc import sdp as aiortc_sdp

from livecommerce.errors import BadRequest, UnsupportedMediaType
from streaming.codecs import AUDIO_MIME, VIDEO_MIMES

__all__ = [
    "MAX_SDP_BYTES",
    "SDP_MEDIA_TYPE",
    "answer_video_mime",
    "check_media_type",
    "offer_kinds",
    "parse_offer",
    "with_start_bitrate",
]

SDP_MEDIA_TYPE = "application/sdp"
MAX_SDP_BYTES = 64 * 1024

Role = Literal["publish", "play"]
_DIRECTIONS: dict[Role, tuple[str, ...]] = {
    "publish": ("sendonly", "sendrecv"),
    "play": ("recvonly", "sendrecv"),
}


def check_media_type(content_type: str | None) -> None:
    """415 unless the request body is declared ``application/sdp``."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != SDP_MEDIA_TYPE:
        raise UnsupportedMediaType(
            f"the body must be an SDP offer sent as Content-Type: {SDP_MEDIA_TYPE}, "
            f"got {content_type or 'no Content-Type'}"
        )


def parse_offer(body: bytes, *, role: Role) -> RTCSessionDescription:
    """The offer as an ``RTCSessionDescription``; 400 with the reason if it is not
    one the relay can answer (``role``: publish for WHIP, play for WHEP)."""
    if len(body) > MAX_SDP_BYTES:
        raise BadRequest(f"the SDP offer is larger than {MAX_SDP_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the SDP offer is not UTF-8 text") from None
    if not text.lstrip().startswith("v=0"):
        raise BadRequest("the body is not an SDP offer: it must start with 'v=0'")
    try:
        parsed = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises bare asserts/ValueErrors
        raise BadRequest(f"the SDP offer could not be parsed: {exc or type(exc).__name__}") from exc
    kinds = [m.kind for m in parsed.media]
    if not any(k in ("audio", "video") for k in kinds):
        raise BadRequest("the SDP offer has no audio or video m= line")
    for kind in ("audio", "video"):
        if kinds.count(kind) > 1:
            raise BadRequest(f"the SDP offer has more than one {kind} m= line; send one")
    if any(k not in ("audio", "video") for k in kinds):
        raise BadRequest("the SDP offer may only carry audio and video (no data channels)")
    for media in parsed.media:
        _check_media(media, role)
    return RTCSessionDescription(sdp=text, type="offer")


def _check_media(media: aiortc_sdp.MediaDescription, role: Role) -> None:
    if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
        raise BadRequest(f"the {media.kind} m= line lacks a=ice-ufrag / a=ice-pwd")
    if media.dtls is None or not media.dtls.fingerprints:
        raise BadRequest(f"the {media.kind} m= line lacks a DTLS a=fingerprint")
    direction = media.direction or "sendrecv"
    if direction not in _DIRECTIONS[role]:
        wanted = " or ".join(_DIRECTIONS[role])
        raise BadRequest(f"the {media.kind} m= line is {direction}; to {role} it must be {wanted}")
    names = {c.mimeType.lower() for c in media.rtp.codecs}
    wanted_mimes = VIDEO_MIMES if media.kind == "video" else (AUDIO_MIME,)
    if not names & {m.lower() for m in wanted_mimes}:
        raise BadRequest(
            f"the {media.kind} m= line offers none of the codecs relayed: {', '.join(wanted_mimes)}"
        )


def offer_kinds(offer: RTCSessionDescription) -> list[str]:
    """The media kinds of a checked offer, in m= line order. Make transceivers
    for exactly these: aiortc cannot answer with a transceiver the offer lacks."""
    return [m.kind for m in aiortc_sdp.SessionDescription.parse(offer.sdp).media]


def answer_video_mime(answer_sdp: str) -> str | None:
    """The video codec an SDP answer settled on (its first video codec), if any."""
    for media in aiortc_sdp.SessionDescription.parse(answer_sdp).media:
        if media.kind == "video" and media.rtp.codecs:
            return media.rtp.codecs[0].mimeType
    return None


def with_start_bitrate(answer_sdp: str, kbps: int) -> str:
    """``answer_sdp`` with ``x-google-start-bitrate=kbps`` on each video codec's
    ``a=fmtp`` line (added where a codec has none).

    Chromium begins sending at 300 kbit/s and raises its rate only as fast as
    its bandwidth estimate grows: with aiortc's receiver (REMB only, no
    transport-wide feedback, so no probing) that is about 8 %/s, and a 720p
    camera is sent at 360p for ~15 s and at 720p only after ~30 s. Told where
    to start, it sends 720p from the first seconds, and REMB and loss reports
    still bring it down on a link that cannot carry it."""
    lines = answer_sdp.split("\r\n")
    out: list[str] = []
    in_video = False
    video_pts: list[str] = []
    fmtp_done: set[str] = set()

    def close_section() -> None:
        for pt in video_pts:
            if pt not in fmtp_done:
                out.append(f"a=fmtp:{pt} x-google-start-bitrate={kbps}")

    for line in lines:
        if line.startswith("m="):
            if in_video:
                close_section()
            in_video = line.startswith("m=video")
            video_pts, fmtp_done = [], set()
        elif in_video and line.startswith("a=rtpmap:"):
            pt, _, name = line[len("a=rtpmap:") :].partition(" ")
            if not name.lower().startswith("rtx/"):
                video_pts.append(pt)
        elif in_video and line.startswith("a=fmtp:"):
            pt, _, params = line[len("a=fmtp:") :].partition(" ")
            if pt in video_pts:
                fmtp_done.add(pt)
                line = f"a=fmtp:{pt} {params};x-google-start-bitrate={kbps}"
        out.append(line)
    if in_video:
        # The last section ends with the text's final CRLF (an empty last element).
        tail = out.pop() if out and out[-1] == "" else None
        close_section()
        if tail is not None:
            out.append(tail)
    return "\r\n".join(out)
