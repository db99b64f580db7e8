"""Server subprocesses of the benchmarks: ports, start-up, CPU time, shutdown.

Shared by scripts/bench_checkout.py and scripts/bench_hub.py (through
scripts/hub_stack.py): both start ``livecommerce serve`` processes and a baseline beside
them on free local ports, measure the CPU seconds those processes spend, and stop them.
scripts/bench_hls.py and scripts/bench_relay.py run one server at a time (``serving``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until ``url``/readyz answers 200; fails early if the process exits."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready in {timeout} s")


@contextlib.contextmanager
def serving(cmd: list[str], env: dict[str, str], port: int, cwd: Path) -> Iterator[tuple[str, int]]:
    """One server process of ``cmd`` that listens on ``port`` (its ``env`` tells it to);
    yields its base URL and pid once it is ready. On exit it is asked to stop (SIGTERM)
    and killed if it has not within 15 s, so a bench never leaves a server behind."""
    proc = subprocess.Popen(cmd, env=env, cwd=str(cwd))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_servers(
    cmd: list[str],
    n: int,
    env: dict[str, str],
    workdir: Path,
    name: str,
    *,
    cwd: Path | None = None,
) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    """``n`` processes of ``cmd`` + a free port, output to ``workdir/<name>-<i>.log``;
    returns them and their base URLs once every one is ready."""
    procs, urls = [], []
    for i in range(n):
        port = free_port()
        logf = open(workdir / f"{name}-{i}.log", "wb")  # noqa: SIM115 - closed with the process
        procs.append(
            subprocess.Popen(
                [*cmd, str(port)],
                env=env,
                cwd=cwd or workdir,
                stdout=logf,
                stderr=subprocess.STDOUT,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    for proc, url in zip(procs, urls, strict=True):
        wait_ready(url, proc)
    return procs, urls


def cpu_seconds(procs: list[subprocess.Popen[bytes]]) -> float:
    """User + system CPU time of the server processes so far (Linux /proc)."""
    total = 0.0
    for proc in procs:
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def stop_servers(
    procs: list[subprocess.Popen[bytes]],
    *,
    sig: signal.Signals = signal.SIGINT,
    timeout: float = 15,
) -> None:
    """Signal every running process first, then wait for each (killed after ``timeout``)."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
