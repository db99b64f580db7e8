"""A bare-bones blocking WebSocket client on a raw socket, for clients that misbehave
(stop reading): the test controls exactly when bytes leave the kernel."""

from __future__ import annotations

import base64
import os
import socket
import struct


class RawWebSocket:
    def __init__(self, host: str, port: int, path: str = "/ws", *, rcvbuf: int = 4096) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        self.buffer = b""

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def read_frame(self, timeout: float) -> tuple[int, bytes]:
        """Read one frame (blocking up to ``timeout`` per chunk)."""
        self.sock.settimeout(timeout)

        def need(n: int) -> None:
            while len(self.buffer) < n:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("closed")
                self.buffer += data

        need(2)
        opcode, n, i = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
        if n == 126:
            need(4)
            n, i = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif n == 127:
            need(10)
            n, i = struct.unpack("!Q", self.buffer[2:10])[0], 10
        need(i + n)
        payload, self.buffer = self.buffer[i : i + n], self.buffer[i + n :]
        return opcode, payload

    def read_until_closed(self, timeout: float) -> list[tuple[int, bytes]]:
        """Read everything until the server closes; returns ``(opcode, payload)`` frames."""
        self.sock.settimeout(timeout)
        chunks = [self.buffer]
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            chunks.append(data)
        data = b"".join(chunks)
        frames = []
        i = 0
        while i + 2 <= len(data):
            opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
            i += 2
            if n == 126:
                n = struct.unpack("!H", data[i : i + 2])[0]
                i += 2
            elif n == 127:
                n = struct.unpack("!Q", data[i : i + 8])[0]
                i += 8
            if i + n > len(data):
                break
            frames.append((opcode, data[i : i + n]))
            i += n
        return frames

    def close(self) -> None:
        self.sock.close()
