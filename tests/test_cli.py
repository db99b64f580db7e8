"""The ``livecommerce`` command, run as a real subprocess on a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).with_name("livecommerce"))


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    environ.update({"LIVECOMMERCE_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env=environ, timeout=120, cwd=tmp_path
    )


@pytest.mark.slow
def test_migrate_seed_and_users_create(tmp_path: Path) -> None:
    r = _run(tmp_path, "migrate")
    assert r.returncode == 0, r.stderr
    assert "revision head" in r.stdout
    r = _run(tmp_path, "seed-demo")
    assert r.returncode == 0, r.stderr
    assert "10 products" in r.stdout
    assert "viewer1@demo.livecommerce.dev" in r.stdout
    assert "/watch/1" in r.stdout
    again = _run(tmp_path, "seed-demo")
    assert again.returncode == 0 and "already present" in again.stdout
    r = _run(
        tmp_path,
        "users",
        "create",
        "--email",
        "Boss@X.dev",
        "--password",
        "pw-123456",
        "--role",
        "admin",
    )
    assert r.returncode == 0 and "role admin" in r.stdout, r.stderr
    dup = _run(tmp_path, "users", "create", "--email", "boss@x.dev", "--password", "pw-123456")
    assert dup.returncode == 1 and "already exists" in dup.stderr


def test_bad_setting_stops_with_one_clear_line(tmp_path: Path) -> None:
    r = _run(tmp_path, "migrate", PORT="not-a-port")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "livecommerce: configuration error: PORT must be an integer, got 'not-a-port'"
    ]
