"""WHEP viewer resources: a peer connection whose senders pack relayed frames.

Each viewer gets one :class:`~streaming.relay.RelayTrack` per kind; its
senders call the codec's ``pack`` on the packets (no encoder runs). The
answer offers every relayable video codec the viewer offered, the host's
first: what the host sends is what the viewer decodes, and a viewer that
connected before the host (or across a host's codec change) keeps its
connection, its sender switching codec (:meth:`Viewer.use_video_codec`).
A viewer's PLI/FIR reaches its sender; it is turned into a (rate-limited)
keyframe request to the host.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from streaming.aiortc_hooks import SenderCodec, on_keyframe_request
from streaming.codecs import audio_preferences, video_preferences
from streaming.peer import PeerResource, negotiate
from streaming.relay import RelayTrack, SessionRelay
from streaming.sdp import offer_kinds

__all__ = ["Viewer"]


class Viewer(PeerResource):
    """Build with :meth:`open`. Subclasses may override :meth:`_attach`,
    :meth:`release` and :attr:`on_media` to feed the senders another way (the
    benchmark's decoding baseline in ``scripts/relay_baseline.py``)."""

    def __init__(
        self,
        *,
        session_id: int,
        pc: RTCPeerConnection,
        relay: SessionRelay,
        on_closed: Callable[[PeerResource], Awaitable[None]],
    ) -> None:
        super().__init__(session_id=session_id, pc=pc, relay=relay, on_closed=on_closed)
        self.tracks: list[MediaStreamTrack] = []
        #: The node id of the edge this peer is (it pulls the show to serve its own
        #: viewers), None for a viewer.
        self.edge: str | None = None
        self._video_codec: SenderCodec | None = None

    @classmethod
    async def open(
        cls,
        offer: RTCSessionDescription,
        *,
        session_id: int,
        relay: SessionRelay,
        configuration: RTCConfiguration,
        on_closed: Callable[[PeerResource], Awaitable[None]],
    ) -> Viewer:
        """Answer a viewer's offer (400 if it cannot be answered)."""
        pc = RTCPeerConnection(configuration)
        self = cls(session_id=session_id, pc=pc, relay=relay, on_closed=on_closed)
        try:
            video: RTCRtpTransceiver | None = None
            for kind in offer_kinds(offer):
                transceiver = pc.addTransceiver(kind, direction="sendonly")
                if kind == "video":
                    transceiver.setCodecPreferences(video_preferences(relay.video_mime))
                    video = transceiver
                else:
                    transceiver.setCodecPreferences(audio_preferences())
                self._attach(transceiver)
            self.answer = await negotiate(pc, offer)
            if video is not None:
                self._video_codec = SenderCodec(video)
                self.video_mime = self._video_codec.mime
        except BaseException:
            self.release()
            await pc.close()
            raise
        return self

    def use_video_codec(self, mime: str) -> bool:
        """Send ``mime`` video from now on (the host's codec); False if this
        viewer did not negotiate it (it cannot decode that host)."""
        if self._video_codec is None or not self._video_codec.use(mime):
            return False
        self.video_mime = self._video_codec.mime
        return True

    def _attach(self, transceiver: RTCRtpTransceiver) -> None:
        kind = transceiver.kind
        fanout = self.relay.video if kind == "video" else self.relay.audio
        track = fanout.subscribe()
        if kind == "video":
            # aiortc's sender would only flag its (unused) encoder on PLI/FIR;
            # the keyframe has to come from the host.
            on_keyframe_request(transceiver.sender, self.relay.keyframes.request)
        transceiver.sender.replaceTrack(track)
        self.tracks.append(track)

    @property
    def on_media(self) -> bool:
        """Whether video frames are flowing to this viewer."""
        for track in self.tracks:
            if isinstance(track, RelayTrack) and track.kind == "video":
                return track.on_media
        return False

    def release(self) -> None:
        for track in self.tracks:
            if isinstance(track, RelayTrack):
                fanout = self.relay.video if track.kind == "video" else self.relay.audio
                fanout.unsubscribe(track)
            else:
                track.stop()
        self.tracks.clear()
