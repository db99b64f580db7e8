"""ICE configuration from settings: host candidates always, STUN/TURN if configured.

``settings.ice_servers`` holds entries like ``stun:stun.example.com:3478`` or
``turn:user:secret@turn.example.com:3478`` (also ``turns:``, and
``?transport=tcp``). With none, peers connect over host candidates only,
which is all loopback and a LAN need.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiortc import RTCConfiguration, RTCIceServer

__all__ = ["ice_server", "rtc_configuration"]


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
