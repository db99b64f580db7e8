"""ICE configuration from settings: host candidates always, STUN/TURN if configured.

``settings.ice_servers`` holds entries like ``stun:stun.example.com:3478`` or
``turn:user:secret@turn.example.com:3478`` (also ``turns:``, and
``?transport=tcp``). With none, peers connect over host candidates only,
which is all loopback and a LAN need.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from streaming.aiortc_hooks import ice_sockets

__all__ = [
    "RECEIVE_BUFFER_BYTES",
    "enlarge_receive_buffers",
    "ice_server",
    "rtc_configuration",
]

#: Receive buffer asked for on a publisher's sockets (the kernel caps it at
#: net.core.rmem_max and doubles it): a keyframe burst arriving while the event
#: loop is busy must wait in the kernel, not be dropped — a lost packet stalls
#: aiortc's jitter buffer until it is retransmitted or the buffer overflows
#: (~2 s). Measured: with 512 KiB, 40 viewers of a 2 Mbit/s host lost ~6% of
#: the host's packets (24 fps delivered); with 2 MiB, none (30 fps). Larger
#: only adds latency when a server is persistently behind.
RECEIVE_BUFFER_BYTES = 2 * 1024 * 1024


def ice_server(entry: str) -> RTCIceServer:
    """One ``ICE_SERVERS`` entry as an ``RTCIceServer`` (credentials split off the URL)."""
    scheme, sep, rest = entry.partition(":")
    if not sep or scheme not in ("stun", "stuns", "turn", "turns") or not rest:
        raise ValueError(
            f"ICE server {entry!r} must look like stun:host:port or turn:user:pass@host"
        )
    if "@" in rest:
        creds, _, address = rest.rpartition("@")
        username, _, credential = creds.partition(":")
        return RTCIceServer(
            urls=f"{scheme}:{address}", username=username or None, credential=credential or None
        )
    return RTCIceServer(urls=entry)


def rtc_configuration(ice_servers: Sequence[str]) -> RTCConfiguration:
    return RTCConfiguration(iceServers=[ice_server(e) for e in ice_servers])


def enlarge_receive_buffers(pc: RTCPeerConnection, size: int = RECEIVE_BUFFER_BYTES) -> int:
    """Ask for ``size``-byte kernel receive buffers on ``pc``'s ICE sockets; returns
    how many sockets took it. Call after ``setLocalDescription`` (sockets exist
    once candidates are gathered). Reaches into aioice, so it is best effort."""
    done = 0
    for sock in ice_sockets(pc):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            done += 1
    return done
