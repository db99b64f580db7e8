"""``livecommerce serve`` in a subprocess, as an operator runs it: its own uvicorn
configuration and JSON logging, its log kept in a file the test can read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from livecommerce.settings import Settings
from tests.support import free_port, seconds

#: Log levels a client's mistake must never produce.
ERROR_LEVELS = ("error", "critical")
WARNING_LEVELS = ("warning", *ERROR_LEVELS)


class ServeProcess:
    """One ``livecommerce serve`` on a free port (or ``port``), sharing the test's database
    and Redis. ``env`` overrides settings (``HUB_SEND_QUEUE="16"``...)."""

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        *,
        log_level: str = "INFO",
        port: int | None = None,
        **env: str,
    ) -> None:
        self.port = free_port() if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "serve.log"
        # Appended: a node restarted on the same data_dir keeps its earlier runs' lines.
        self._log = self.log_path.open("ab")
        environ = {
            **os.environ,
            "LIVECOMMERCE_ENV": "test",
            "LIVECOMMERCE_DATA_DIR": str(data_dir),
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url or "",
            "SECRET_KEY": settings.secret_key,
            "LOG_LEVEL": log_level,
            "EMBEDDED_WORKER": "false",
            **env,
        }
        code = "from livecommerce.cli import main; raise SystemExit(main())"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, "serve", "--port", str(self.port)],
            env=environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> ServeProcess:
        """Poll ``/healthz`` until it answers (a starting process has nothing to wait on)."""
        deadline = seconds(30)
        waited = 0.0
        while waited < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("serve exited:\n" + self.log_path.read_text())
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            threading.Event().wait(0.1)
            waited += 0.1
        raise RuntimeError("serve did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(seconds(15))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def bad_lines(self, since: int = 0, *, levels: tuple[str, ...] = ERROR_LEVELS) -> list[str]:
        """Log lines after byte ``since`` at one of ``levels``, carrying a traceback, or
        not written by our JSON formatter (a raw traceback or a library's print)."""
        with self.log_path.open("rb") as f:
            f.seek(since)
            lines = f.read().decode(errors="replace").splitlines()
        bad = []
        for line in lines:
            try:
                doc: dict[str, Any] = json.loads(line)
            except ValueError:
                bad.append(line)
                continue
            if doc.get("level") in levels or "exc" in doc:
                bad.append(line)
            elif "never retrieved" in str(doc.get("msg", "")):
                bad.append(line)
        return bad
