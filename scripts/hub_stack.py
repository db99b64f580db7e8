"""The servers of scripts/bench_hub.py: 2 ``livecommerce serve`` or 2 baseline processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from scripts.bench_procs import cpu_seconds, free_port, stop_servers
from scripts.hub_baseline import WS_IMPL

ROOT = Path(__file__).resolve().parent.parent
#: The baseline server, run as a module from the project root (see scripts/__init__.py).
BASELINE_SERVER = ["-m", "scripts.hub_baseline"]


class Servers:
    def __init__(self, procs: list[subprocess.Popen[bytes]], ports: list[int]) -> None:
        self.procs = procs
        self.ports = ports

    @classmethod
    def ours(cls, tmp: Path, database_url: str, redis_url: str) -> Servers:
        ports = [free_port(), free_port()]
        procs = []
        for i, port in enumerate(ports):
            env = {
                **os.environ,
                "LIVECOMMERCE_ENV": "development",
                "LIVECOMMERCE_DATA_DIR": str(tmp / f"hub{i}"),
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "SECRET_KEY": "bench-secret-key-0123456789",
                "LOG_LEVEL": "WARNING",
                "HUB_WS_IMPL": WS_IMPL,
            }
            code = "from livecommerce.cli import main; raise SystemExit(main())"
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", code, "serve", "--port", str(port)], env=env
                )
            )
        return cls(procs, ports)

    @classmethod
    def baseline(cls, redis_url: str) -> Servers:
        ports = [free_port(), free_port()]
        procs = [
            subprocess.Popen([sys.executable, *BASELINE_SERVER, str(port), redis_url], cwd=ROOT)
            for port in ports
        ]
        return cls(procs, ports)

    def wait_ready(self) -> None:
        # A TCP accept, not /readyz: the baseline (python-socketio) has no such route.
        for port in self.ports:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server on {port} did not start")
                time.sleep(0.2)

    def rss_kb(self) -> int:
        return int(sum(psutil.Process(p.pid).memory_info().rss for p in self.procs)) // 1024

    def cpu_s(self) -> float:
        return cpu_seconds(self.procs)

    def stop(self) -> None:
        stop_servers(self.procs, sig=signal.SIGTERM, timeout=10)
