"""A benchmark's scratch space: a temporary directory with an embedded Valkey and (unless
the bench is given a database) a SQLite database, migrated, and the environment its
``livecommerce serve`` processes need to use them.

Shared by scripts/bench_checkout.py and scripts/bench_links.py, which run our servers and
then a SQL baseline against the same database and Valkey.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Scratch:
    workdir: Path
    database_url: str
    redis_url: str

    def server_env(self, secret_key: str) -> dict[str, str]:
        """The environment of a server under test: this scratch's database and Valkey,
        ``secret_key`` (the bench signs its tokens with it) and warnings-only logs."""
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": secret_key,
            "LOG_LEVEL": "WARNING",
            "LIVECOMMERCE_DATA_DIR": str(self.workdir),
        }


@contextlib.contextmanager
def bench_scratch(
    name: str, database_url: str | None, log: Callable[[str], None]
) -> Iterator[Scratch]:
    """A scratch for the bench ``name``, its database ``database_url`` or a SQLite file in
    it. On exit Valkey stops and the directory goes, unless ``BENCH_KEEP`` is set (its
    server logs are there to read)."""
    # Imported here, not at the top: a bench's load-generator processes are spawned and
    # re-import the bench's module, and need none of this.
    from livecommerce.db.migrate import migrate
    from livecommerce.valkey import EmbeddedValkey

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    valkey = EmbeddedValkey(workdir / "valkey")
    database_url = database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    try:
        redis_url = valkey.start()
        log(f"valkey at {redis_url}; database {database_url.split('@')[-1]}")
        migrate(database_url)
        yield Scratch(workdir, database_url, redis_url)
    finally:
        valkey.stop()
        if os.environ.get("BENCH_KEEP"):
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
