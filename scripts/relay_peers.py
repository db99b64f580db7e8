"""The peers of scripts/bench_relay.py: a synthetic 720p VP8 host and counting viewers.

To keep the load generator cheap on a 2-core machine the host encodes a few seconds of
synthetic 720p VP8 once and loops those packets with fresh timestamps (a keyframe
request restarts the loop at its keyframe, so the stream stays decodable), and viewers
count complete encoded frames (reassembled by aiortc's jitter buffer) without decoding
them. tests/test_streaming.py is where frames are decoded and checked.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fractions
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import av
import httpx
from aiortc import RTCPeerConnection
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

from streaming.aiortc_hooks import on_rtp_packet, send_nack, send_pli
from streaming.client import post_offer
from streaming.codecs import is_keyframe
from streaming.ice import enlarge_receive_buffers

WIDTH, HEIGHT, FPS = 1280, 720, 30
TIME_BASE = fractions.Fraction(1, 90000)


# --- the synthetic host ------------------------------------------------------


def encode_loop(seconds: float, bitrate: int) -> list[bytes]:
    """VP8 frames of a moving synthetic 720p picture; frame 0 is the only keyframe."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = WIDTH, HEIGHT
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = fractions.Fraction(1, FPS)
    codec.gop_size = 100000
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "-8",
        "lag-in-frames": "0",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "bufsize": str(bitrate),
        "undershoot-pct": "100",
        "overshoot-pct": "15",
    }
    base_row = bytes((x * 255 // WIDTH) for x in range(WIDTH))
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    noise_w, noise_h = 320, 180
    frames: list[bytes] = []
    count = int(seconds * FPS)
    for i in range(count):
        shift = (i * 8) % WIDTH
        row = base_row[shift:] + base_row[:shift]
        luma = bytearray(row * HEIGHT)
        # A moving block of fresh noise, so P-frames carry real data like a camera's.
        bx = (i * 24) % (WIDTH - noise_w)
        by = (i * 12) % (HEIGHT - noise_h)
        for y in range(by, by + noise_h):
            start = y * WIDTH + bx
            luma[start : start + noise_w] = os.urandom(noise_w)
        frame = av.VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        y_plane, u_plane, v_plane = frame.planes
        if y_plane.line_size == WIDTH:
            y_plane.update(bytes(luma))
        else:
            pad = bytes(y_plane.line_size - WIDTH)
            y_plane.update(
                b"".join(bytes(luma[r * WIDTH : (r + 1) * WIDTH]) + pad for r in range(HEIGHT))
            )
        u_plane.update(chroma + bytes(u_plane.buffer_size - len(chroma)))
        v_plane.update(chroma + bytes(v_plane.buffer_size - len(chroma)))
        frame.pts = i
        frame.time_base = codec.time_base
        for packet in codec.encode(frame):
            frames.append(bytes(packet))
    for packet in codec.encode(None):
        frames.append(bytes(packet))
    return frames


class ToneTrack(MediaStreamTrack):
    """A host's microphone: a 440 Hz sine, 48 kHz mono s16, 20 ms frames in real time
    (aiortc encodes it to Opus)."""

    kind = "audio"
    RATE, SAMPLES = 48_000, 960

    def __init__(self, amplitude: int = 8000) -> None:
        super().__init__()
        # One second holds exactly 440 periods: the loop is seamless.
        wave = (round(amplitude * math.sin(2 * math.pi * 440 * i / 48_000)) for i in range(48_000))
        second = array.array("h", wave).tobytes()
        self._pcm = second + second[: self.SAMPLES * 2]
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += self.SAMPLES
            await asyncio.sleep(self._start + self._pts / self.RATE - time.monotonic())
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        offset = self._pts % self.RATE * 2
        frame.planes[0].update(self._pcm[offset : offset + self.SAMPLES * 2])
        frame.pts, frame.sample_rate = self._pts, self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


class LoopTrack(MediaStreamTrack):
    """Pre-encoded frames at 30 fps with fresh timestamps; ``recv`` returns packets
    (the sender packs them, no encoder). A keyframe request restarts the loop."""

    kind = "video"

    def __init__(self, frames: list[bytes]) -> None:
        super().__init__()
        self.frames = frames
        self.index = 0
        self.sent = 0
        self._start: float | None = None
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self.index = 0

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        delay = self._start + self.sent / FPS - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # a camera's pace
        packet = av.Packet(self.frames[self.index])
        packet.pts = self.sent * (90000 // FPS)
        packet.time_base = TIME_BASE
        self.index = (self.index + 1) % len(self.frames)
        self.sent += 1
        return packet


# --- counting viewers ----------------------------------------------------------


@dataclass
class _Frame:
    seqs: set[int] = field(default_factory=set)
    first: int | None = None
    last: int | None = None
    key: bool = False
    done: bool = False


@dataclass
class CountingViewer:
    """A WHEP viewer that records when each complete encoded frame arrives.

    Its video receiver's RTP handler is replaced by a light one: a VP8 frame
    counts once every packet from the one starting it to the one with the
    marker bit has arrived. Like a browser it NACKs sequence gaps and takes the
    RTX retransmissions; unlike one it never depacketizes into a jitter buffer
    or decodes, so the load generator stays cheaper than the server it measures."""

    pc: RTCPeerConnection = field(default_factory=RTCPeerConnection)
    arrivals: list[float] = field(default_factory=list)
    posted_at: float = 0.0
    connected_at: float | None = None
    first_keyframe_at: float | None = None
    location: str = ""
    nacked: int = 0
    plis: int = 0
    _last_pli: float = 0.0
    _frames: dict[int, _Frame] = field(default_factory=dict)
    _max_seq: int | None = None
    #: The first payload type seen is the media one (RTX only answers NACKs).
    _media_pt: int | None = None
    _tasks: set[asyncio.Future[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        @self.pc.on("connectionstatechange")
        def _changed() -> None:
            if self.pc.connectionState == "connected" and self.connected_at is None:
                self.connected_at = time.monotonic()

        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        self._receiver = transceiver.receiver
        on_rtp_packet(self._receiver, self._on_rtp)

    async def _on_rtp(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        if self._media_pt is None:
            self._media_pt = packet.payload_type
        if packet.payload_type == self._media_pt:
            seq, payload = packet.sequence_number, packet.payload
            self._nack_gaps(seq, packet.ssrc)
            if self.first_keyframe_at is None:
                self._maybe_pli(packet.ssrc)
        elif len(packet.payload) > 2:  # RTX: the original sequence number, then the payload
            seq, payload = int.from_bytes(packet.payload[:2], "big"), packet.payload[2:]
        else:
            return
        frame = self._frames.get(packet.timestamp)
        if frame is None:
            frame = self._frames[packet.timestamp] = _Frame()
            if len(self._frames) > 64:
                del self._frames[next(iter(self._frames))]
        if frame.done:
            return
        frame.seqs.add(seq)
        if payload and payload[0] & 0x1F == 0x10:  # S bit, partition 0: the frame's start
            frame.first = seq
            with contextlib.suppress(ValueError):
                frame.key = is_keyframe("video/VP8", VpxPayloadDescriptor.parse(payload)[1])
        if packet.marker:
            frame.last = seq
        if (
            frame.first is not None
            and frame.last is not None
            and len(frame.seqs) == ((frame.last - frame.first) & 0xFFFF) + 1
        ):
            frame.done = True
            now = time.monotonic()
            if self.first_keyframe_at is None:
                if not frame.key:
                    return  # undecodable without the keyframe it depends on
                self.first_keyframe_at = now
            self.arrivals.append(now)

    def _maybe_pli(self, ssrc: int) -> None:
        # Like a browser that has no picture yet: ask again every second (the
        # first request is the relay's own, when this viewer's sender starts).
        now = time.monotonic()
        if now - max(self._last_pli, self.connected_at or now) < 1.0:
            return
        self._last_pli = now
        self.plis += 1
        task = asyncio.ensure_future(send_pli(self._receiver, ssrc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _nack_gaps(self, seq: int, ssrc: int) -> None:
        if self._max_seq is None:
            self._max_seq = seq
            return
        ahead = (seq - self._max_seq) & 0xFFFF
        if ahead == 0 or ahead >= 0x8000:
            return  # a duplicate or a late packet
        if 1 < ahead < 100:
            lost = [(self._max_seq + i) & 0xFFFF for i in range(1, ahead)]
            self.nacked += len(lost)
            task = asyncio.ensure_future(send_nack(self._receiver, ssrc, lost))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._max_seq = seq

    async def play(self, client: httpx.AsyncClient, session_id: int) -> None:
        self.posted_at = time.monotonic()
        r = await post_offer(client, f"/whep/{session_id}", self.pc)
        if r.status_code != 201:
            raise RuntimeError(f"WHEP failed: {r.status_code} {r.text}")
        self.location = r.headers["location"]
        enlarge_receive_buffers(self.pc)  # this process is as busy as the server

    def fps(self, start: float, end: float) -> float:
        return sum(1 for t in self.arrivals if start <= t < end) / (end - start)

    @property
    def connect_ms(self) -> float | None:
        """WHEP POST to ICE+DTLS connected (the part no keyframe request can shorten)."""
        return None if self.connected_at is None else (self.connected_at - self.posted_at) * 1000

    @property
    def first_frame_ms(self) -> float | None:
        if self.first_keyframe_at is None:
            return None
        return (self.first_keyframe_at - self.posted_at) * 1000
