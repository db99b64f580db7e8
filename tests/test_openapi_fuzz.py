"""schemathesis against our own /openapi.json: no 5xx, every response matches the schema.

Runs twice: anonymously, and as an admin (who may call every endpoint, so the
fuzzer reaches the handlers behind the role checks).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import Actors, ServerThread

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def _schemathesis(url: str, report_dir: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    args = [
        str(exe),
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        # 15 per operation: ~95 operations now; 25 made the two runs ~110 s of each pass.
        "--max-examples",
        "15",
        "--workers",
        "2",
        "--seed",
        "20261125",
        "--generation-database",
        "none",
        "--report-dir",
        str(report_dir),
        "--no-color",
        # WHIP/WHEP answer SDP bodies that a JSON-schema fuzzer cannot build offers for;
        # their own tests cover bad SDP.
        "--exclude-path-regex",
        "^/(whip|whep)/",
        "--exclude-path",
        "/ws",
    ]
    for header in headers:
        args += ["--header", header]
    return subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=report_dir)


@pytest.mark.slow
@pytest.mark.timeout(360)  # ~95 operations x 15 examples: about 35-60 s on 2 cores
@pytest.mark.parametrize("who", ["anonymous", "admin"])
async def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    server: ServerThread, actors: Actors, tmp_path: Path, who: str
) -> None:
    headers = []
    if who == "admin":
        admin = await actors.user("admin")
        headers.append(f"Authorization: Bearer {admin['token']}")
    result = _schemathesis(server.url, tmp_path, *headers)
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    assert "failures" not in result.stdout.splitlines()[-1].lower() or " 0 failures" in tail, tail
