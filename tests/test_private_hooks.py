"""The private internals of aiortc, aioice and uvicorn that the relay and the hub rely on.

None of these is public API: an upgrade may rename one, and the symptom would be a
relay that silently forwards nothing or a hub that falls back to slow sends. So this
test asks the installed libraries themselves (not our wrappers) whether every hook is
still there, and names the missing ones. pyproject.toml caps aiortc, aioice and uvicorn
below their next release; raise a cap only together with a green run of this file.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import queue
from importlib.metadata import version

import pytest
from aiortc import RTCPeerConnection


def _missing(obj: object, names: list[str]) -> list[str]:
    return [f"{type(obj).__name__}.{name}" for name in names if not hasattr(obj, name)]


def _fail_if(missing: list[str], package: str) -> None:
    if missing:
        pytest.fail(
            f"{package} {version(package)} lacks private hooks we rely on: "
            f"{', '.join(missing)}. Pin {package} back below this version in "
            "pyproject.toml, or port the code that uses them.",
            pytrace=False,
        )


async def test_aiortc_and_aioice_hooks_exist() -> None:
    # A real peer connection with one transceiver: most hooks are instance attributes
    # that aiortc sets in __init__, so the classes alone would not show them.
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendrecv")
        receiver, sender = transceiver.receiver, transceiver.sender
        missing = [
            # The tap takes the host's encoded frames before any decoder sees them.
            *_missing(receiver, ["_RTCRtpReceiver__decoder_queue", "_RTCRtpReceiver__rtx_ssrc"]),
            # Keyframe requests: PLI upstream to the host, a viewer's PLI/FIR forwarded.
            *_missing(receiver, ["_send_rtcp_pli"]),
            *_missing(sender, ["_send_keyframe"]),
            # Switching a connected viewer's sender to the host's codec.
            *_missing(sender, ["_RTCRtpSender__rtx_payload_type", "_RTCRtpSender__encoder"]),
            *_missing(transceiver, ["_codecs"]),
            # The connect task aiortc never awaits.
            *_missing(pc, ["_RTCPeerConnection__connect"]),
        ]
        _fail_if(missing, "aiortc")

        decoder_queue = getattr(receiver, "_RTCRtpReceiver__decoder_queue")  # noqa: B009
        assert isinstance(decoder_queue, queue.Queue), type(decoder_queue)
        send_pli = getattr(receiver, "_send_rtcp_pli")  # noqa: B009
        assert inspect.iscoroutinefunction(send_pli)
        assert list(inspect.signature(send_pli).parameters) == ["media_ssrc"]
        assert callable(getattr(sender, "_send_keyframe"))  # noqa: B009
        assert inspect.iscoroutinefunction(getattr(pc, "_RTCPeerConnection__connect"))  # noqa: B009

        # aioice: the ICE connection under aiortc's transport, and its UDP sockets.
        ice_transport = receiver.transport.transport
        _fail_if(_missing(ice_transport, ["_connection"]), "aiortc")
        connection = getattr(ice_transport, "_connection")  # noqa: B009
        assert type(connection).__module__.startswith("aioice"), type(connection)
        _fail_if(_missing(connection, ["_protocols"]), "aioice")
        assert isinstance(getattr(connection, "_protocols"), list)  # noqa: B009
    finally:
        await pc.close()


# What the hub's raw-frame path (livecommerce.hub.wire) uses of uvicorn's
# websockets-sansio protocol beyond the ASGI interface.
_UVICORN_METHODS = ["handle_parser_exception", "run_asgi", "send_receive_event_to_app"]
_UVICORN_ATTRIBUTES = [
    "close_sent",
    "close_timeout",
    "close_timer",
    "conn",
    "curr_msg_data_type",
    "disconnected",
    "frames",
    "handshake_complete",
    "loop",
    "queue",
    "read_paused",
    "scope",
    "transport",
]


async def test_uvicorn_websockets_sansio_hooks_exist() -> None:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    try:
        module = importlib.import_module("uvicorn.protocols.websockets.websockets_sansio_impl")
    except ImportError as exc:
        _fail_if([f"uvicorn.protocols.websockets.websockets_sansio_impl ({exc})"], "uvicorn")
        raise
    protocol_class = getattr(module, "WebSocketsSansIOProtocol", None)
    _fail_if([] if protocol_class else ["WebSocketsSansIOProtocol"], "uvicorn")
    _fail_if(_missing(protocol_class, _UVICORN_METHODS), "uvicorn")

    async def app(scope: object, receive: object, send: object) -> None:  # pragma: no cover
        pass

    config = Config(app=app, ws="websockets-sansio", log_config=None)
    config.load()
    protocol = protocol_class(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    # `scope` is set only when the upgrade request arrives, so it is looked for in the source.
    missing = _missing(protocol, [a for a in _UVICORN_ATTRIBUTES if a != "scope"])
    if "self.scope" not in inspect.getsource(protocol_class):
        missing.append(f"{protocol_class.__name__}.scope")
    _fail_if(missing, "uvicorn")
