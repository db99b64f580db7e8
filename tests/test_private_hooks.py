"""The private internals of aiortc, aioice and uvicorn that the relay and the hub rely on.

None of these is public API: an upgrade may rename one, and the symptom would be a
relay that silently forwards nothing, a hub that falls back to slow sends or an edge
that no longer answers its own errors. Each module that uses them lists them
(streaming.aiortc_hooks, livecommerce.hub.wire, livecommerce.http.protocol); this file
asks the installed libraries for every listed hook and names the missing ones.
pyproject.toml holds aiortc, aioice and uvicorn to one minor release; move a bound only
together with a green run of this file.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import queue
from importlib.metadata import version

import pytest
from aiortc import RTCPeerConnection

from livecommerce.http.protocol import UVICORN_PRIVATE_HOOKS as EDGE_HOOKS
from livecommerce.hub.wire import UVICORN_PRIVATE_HOOKS as WIRE_HOOKS
from streaming import aiortc_hooks


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
        # Every hook streaming.aiortc_hooks lists, asked of a throwaway peer connection.
        _fail_if(await aiortc_hooks.missing_hooks(), "aiortc")
        # And the shapes the relay relies on.

        decoder_queue = getattr(receiver, "_RTCRtpReceiver__decoder_queue")  # noqa: B009
        assert isinstance(decoder_queue, queue.Queue), type(decoder_queue)
        send_pli = getattr(receiver, "_send_rtcp_pli")  # noqa: B009
        assert inspect.iscoroutinefunction(send_pli)
        assert list(inspect.signature(send_pli).parameters) == ["media_ssrc"]
        assert callable(getattr(sender, "_send_keyframe"))  # noqa: B009
        assert inspect.iscoroutinefunction(getattr(pc, "_RTCPeerConnection__connect"))  # noqa: B009

        # aioice: the ICE connection under aiortc's transport, and its UDP sockets.
        connection = getattr(receiver.transport.transport, "_connection")  # noqa: B009
        assert type(connection).__module__.startswith("aioice"), type(connection)
        assert isinstance(getattr(connection, "_protocols"), list)  # noqa: B009
    finally:
        await pc.close()


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

    async def app(scope: object, receive: object, send: object) -> None:  # pragma: no cover
        pass

    config = Config(app=app, ws="websockets-sansio", log_config=None)
    config.load()
    protocol = protocol_class(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    # `scope` is set only when the upgrade request arrives, so it is looked for in the source.
    missing = _missing(protocol, [a for a in WIRE_HOOKS if a != "scope"])
    if "self.scope" not in inspect.getsource(protocol_class):
        missing.append(f"{protocol_class.__name__}.scope")
    _fail_if(missing, "uvicorn")


async def test_uvicorn_httptools_hooks_exist() -> None:
    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    async def app(scope: object, receive: object, send: object) -> None:  # pragma: no cover
        pass

    protocol = HttpToolsProtocol(
        config=Config(app, log_config=None), server_state=ServerState(), app_state={}
    )
    _fail_if(_missing(protocol, list(EDGE_HOOKS)), "uvicorn")
