"""WHEP viewer resources: a peer connection whose senders pack relayed frames.

Each viewer gets one :class:`~streaming.relay.RelayTrack` per kind; its
senders call the codec's ``pack`` on the packets (no encoder runs). The
answer offers only the publisher's video codec, so what the host sends is
what the viewer decodes. A viewer's PLI/FIR reaches its sender; it is turned
into a (rate-limited) keyframe request to the host.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from streaming.codecs import audio_preferences, video_preferences
from streaming.peer import PeerResource, negotiate
from streaming.relay import RelayTrack, SessionRelay
from streaming.sdp import answer_video_mime, offer_kinds

__all__ = ["Viewer"]


class Viewer(PeerResource):
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
        """Answer a viewer's offer. Before anyone publishes, any relayable video
        codec may be negotiated; the viewer is dropped if the host's differs."""
        pc = RTCPeerConnection(configuration)
        self = cls(session_id=session_id, pc=pc, relay=relay, on_closed=on_closed)
        try:
            for kind in offer_kinds(offer):
                transceiver = pc.addTransceiver(kind, direction="sendonly")
                if kind == "video":
                    transceiver.setCodecPreferences(video_preferences(relay.video_mime))
                else:
                    transceiver.setCodecPreferences(audio_preferences())
                self._attach(transceiver)
            self.answer = await negotiate(pc, offer)
        except BaseException:
            self.release()
            await pc.close()
            raise
        self.video_mime = answer_video_mime(self.answer)
        return self

    def _attach(self, transceiver: RTCRtpTransceiver) -> None:
        kind = transceiver.kind
        track: MediaStreamTrack | None
        if self.relay.decoding is not None:
            track = self.relay.decoding.subscribe(kind)
        else:
            fanout = self.relay.video if kind == "video" else self.relay.audio
            track = fanout.subscribe()
            if kind == "video":
                # aiortc's sender would only flag its (unused) encoder on PLI/FIR;
                # the keyframe has to come from the host.
                transceiver.sender._send_keyframe = self.relay.keyframes.request  # type: ignore[method-assign]
        if track is not None:
            transceiver.sender.replaceTrack(track)
            self.tracks.append(track)

    def _detach(self, track: MediaStreamTrack) -> None:
        if isinstance(track, RelayTrack):
            fanout = self.relay.video if track.kind == "video" else self.relay.audio
            fanout.unsubscribe(track)
        else:
            track.stop()
        if track in self.tracks:
            self.tracks.remove(track)

    @property
    def on_media(self) -> bool:
        """Whether video frames are flowing to this viewer."""
        for track in self.tracks:
            if isinstance(track, RelayTrack) and track.kind == "video":
                return track.on_media
        return self.relay.decoding is not None and any(t.kind == "video" for t in self.tracks)

    def release(self) -> None:
        for track in list(self.tracks):
            self._detach(track)
