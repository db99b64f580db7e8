"""The load generator of scripts/bench_hub.py: raw asyncio WebSocket viewers.

Each viewer speaks just enough WebSocket (and, for the baseline, engine.io/socket.io) to
join a show and time the pin frames it receives; nothing else is parsed, so thousands of
them fit in a couple of client processes beside the servers under test.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import resource
import time
from array import array
from collections.abc import Callable
from typing import Any


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _frame(text: bytes) -> bytes:
    """A client text frame with an all-zero mask (the payload goes as is)."""
    n = len(text)
    if n < 126:
        head = bytes([0x81, 0x80 | n])
    else:
        head = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + b"\0\0\0\0" + text


def _control(opcode: int, payload: bytes) -> bytes:
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


_PIN_ID = b'"pin_id":'


def _pin_id(payload: bytes, start: int) -> int:
    i = payload.find(_PIN_ID, start) + len(_PIN_ID)
    j = i
    while 48 <= payload[j] <= 57:
        j += 1
    return int(payload[i:j])


class Viewer(asyncio.Protocol):
    """One raw WebSocket viewer; ``mode`` is "hub" (ours) or "sio" (engine.io v4)."""

    def __init__(self, shared: Shared, host: str, path: str, mode: str, session: int) -> None:
        self.shared = shared
        self.mode = mode
        self.session = session
        self.buf = b""
        self.upgraded = False
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.shared.lost += 1

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if b" 101 " not in buf[:20]:
                self.shared.failed += 1
                self.transport.close()  # type: ignore[union-attr]
                return
            self.upgraded = True
            buf = buf[end + 4 :]
            if self.mode == "hub":
                join = b'{"type":"join","session":%d}' % self.session
                self.transport.write(_frame(join))  # type: ignore[union-attr]
        i, n = 0, len(buf)
        while n - i >= 2:
            length = buf[i + 1] & 0x7F
            head = 2
            if length == 126:
                if n - i < 4:
                    break
                length = int.from_bytes(buf[i + 2 : i + 4], "big")
                head = 4
            elif length == 127:
                if n - i < 10:
                    break
                length = int.from_bytes(buf[i + 2 : i + 10], "big")
                head = 10
            if n - i < head + length:
                break
            opcode = buf[i] & 0x0F
            payload = buf[i + head : i + head + length]
            i += head + length
            if opcode == 1:
                self.on_text(payload)
            elif opcode == 9:
                self.transport.write(_control(0xA, payload))  # type: ignore[union-attr]
            elif opcode == 8:
                self.shared.closed += 1
        self.buf = buf[i:]

    def on_text(self, payload: bytes) -> None:
        shared = self.shared
        if self.mode == "hub":
            at = payload.find(b'"type":"pinned"')
            if at >= 0:
                shared.record(_pin_id(payload, at), time.time())
            elif payload.startswith(b'{"type":"ack"'):
                shared.joined += 1
            return
        # engine.io v4 / socket.io v5 packets
        if payload.startswith(b'42["pinned"'):
            shared.record(_pin_id(payload, 0), time.time())
        elif payload == b"2":
            self.transport.write(_frame(b"3"))  # type: ignore[union-attr]
        elif payload.startswith(b"431"):
            shared.joined += 1
        elif payload.startswith(b"40"):
            join = b'421["join",{"session":%d}]' % self.session
            self.transport.write(_frame(join))  # type: ignore[union-attr]
        elif payload.startswith(b"0{"):
            self.transport.write(_frame(b"40"))  # type: ignore[union-attr]


class Shared:
    def __init__(self) -> None:
        self.joined = 0
        self.lost = 0
        self.closed = 0
        self.failed = 0
        self.receipts: dict[int, array[float]] = {}

    def record(self, pin_id: int, at: float) -> None:
        times = self.receipts.get(pin_id)
        if times is None:
            times = self.receipts[pin_id] = array("d")
        times.append(at)


def client_process(
    pipe: Any, mode: str, ports: list[int], count: int, offset: int, session: int
) -> None:
    """Run ``count`` viewers; report joins; on "collect", send receipts and exit."""
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        loop = asyncio.get_running_loop()
        shared = Shared()
        path = "/ws" if mode == "hub" else "/socket.io/?EIO=4&transport=websocket"
        transports = []
        sem = asyncio.Semaphore(200)

        async def open_one(index: int) -> None:
            port = ports[index % len(ports)]
            async with sem:
                for attempt in range(5):
                    try:
                        transport, _ = await loop.create_connection(
                            lambda: Viewer(shared, f"127.0.0.1:{port}", path, mode, session),
                            "127.0.0.1",
                            port,
                        )
                        transports.append(transport)
                        return
                    except OSError:
                        await asyncio.sleep(0.2 * (attempt + 1))
                shared.failed += 1

        await asyncio.gather(*(open_one(offset + i) for i in range(count)))
        while True:
            pipe.send(("joined", shared.joined, shared.failed))
            if await loop.run_in_executor(None, pipe.poll, 0.5):
                command = pipe.recv()
                if command == "collect":
                    break
        pipe.send(
            (
                "receipts",
                {k: v.tobytes() for k, v in shared.receipts.items()},
                shared.lost,
                shared.closed,
            )
        )
        for transport in transports:
            transport.abort()

    asyncio.run(main())


class LoadGenerator:
    """``viewers`` viewers spread over ``procs`` client processes and the servers' ``ports``;
    ``progress`` hears how many have joined."""

    def __init__(
        self,
        mode: str,
        ports: list[int],
        viewers: int,
        session: int,
        procs: int,
        progress: Callable[[str], None] = print,
    ):
        ctx = mp.get_context("spawn")
        self.pipes = []
        self.procs = []
        per = [viewers // procs + (1 if i < viewers % procs else 0) for i in range(procs)]
        offset = 0
        for count in per:
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=client_process, args=(child, mode, ports, count, offset, session)
            )
            proc.start()
            offset += count
            self.pipes.append(parent)
            self.procs.append(proc)
        self.viewers = viewers
        self.progress = progress

    async def wait_joined(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        last = -1
        status = [(0, 0)] * len(self.pipes)
        while time.monotonic() < deadline:
            for i, pipe in enumerate(self.pipes):
                while pipe.poll():
                    _, joined, failed = pipe.recv()
                    status[i] = (joined, failed)
            joined = sum(s[0] for s in status)
            failed = sum(s[1] for s in status)
            if joined != last:
                self.progress(f"  {joined}/{self.viewers} viewers joined ({failed} failed)")
                last = joined
            if joined + failed >= self.viewers:
                return joined
            await asyncio.sleep(0.5)
        return sum(s[0] for s in status)

    def collect(self) -> tuple[dict[int, list[float]], int, int]:
        receipts: dict[int, list[float]] = {}
        lost = closed = 0
        for pipe in self.pipes:
            pipe.send("collect")
        for pipe in self.pipes:
            while True:
                message = pipe.recv()
                if message[0] == "receipts":
                    break
            for pin_id, raw in message[1].items():
                times = array("d")
                times.frombytes(raw)
                receipts.setdefault(pin_id, []).extend(times)
            lost += message[2]
            closed += message[3]
        for proc in self.procs:
            proc.join(10)
        return receipts, lost, closed
