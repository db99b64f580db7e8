#!/usr/bin/env python
"""The baseline of scripts/bench_hub.py: python-socketio with its Redis manager.

An ``AsyncServer`` on uvicorn (the same WebSocket implementation as ours) whose
``AsyncRedisManager`` fans events out across processes through the same valkey: viewers
join a room, the host's ``pin``/``unpin`` is emitted to it. No SQL, no rights check, no
Redis pin state: a pure fan-out. Run by the bench: ``hub_baseline.py PORT REDIS_URL``.
"""

from __future__ import annotations

import sys
from typing import Any

WS_IMPL = "websockets-sansio"


def baseline_server(port: int, redis_url: str) -> None:
    """python-socketio with its Redis manager: join a room, fan a pin out to it."""
    import socketio
    import uvicorn

    manager = socketio.AsyncRedisManager(redis_url)
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, transports=["websocket"])

    @sio.event  # type: ignore[untyped-decorator]
    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.enter_room(sid, f"s{data['session']}")
        return {"ok": True}

    @sio.event  # type: ignore[untyped-decorator]
    async def pin(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.emit("pinned", data, room=f"s{data['session']}")
        return {"ok": True}

    @sio.event  # type: ignore[untyped-decorator]
    async def unpin(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.emit("unpinned", data, room=f"s{data['session']}")
        return {"ok": True}

    uvicorn.run(
        socketio.ASGIApp(sio),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws=WS_IMPL,
        ws_ping_interval=None,
        backlog=4096,
    )


if __name__ == "__main__":
    baseline_server(int(sys.argv[1]), sys.argv[2])
