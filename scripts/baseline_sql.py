"""What the benches' SQL baselines (``checkout_baseline``, ``links_baseline``) share: the
engine set up the way the straightforward per-request SQL design would run, and the
server they run under, so the two baselines are measured on the same footing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from livecommerce.db.engine import normalize_url


def sql_engine(database_url: str) -> tuple[AsyncEngine, bool]:
    """An engine for ``database_url`` and whether it is SQLite (a baseline locks rows
    with ``FOR UPDATE`` only on a server database)."""
    url = normalize_url(database_url)
    sqlite = url.startswith("sqlite")
    kwargs: dict[str, Any] = {}
    if sqlite:
        kwargs["connect_args"] = {"timeout": 30, "isolation_level": None}
    else:
        # Room for the bench's concurrency, so the pool is not what is measured.
        kwargs.update(pool_size=20, max_overflow=20)
    engine = create_async_engine(url, **kwargs)
    if sqlite:
        # SQLAlchemy's documented recipe: take the write lock at BEGIN (row locking's
        # SQLite equivalent), so check-then-write cannot interleave.
        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine, sqlite


def serve(app: Any, port: int) -> None:
    """Run a baseline's app on 127.0.0.1:``port`` as the bench's servers run: quiet, no
    access log, a deep accept backlog for the load's bursts of connections."""
    import uvicorn

    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", backlog=4096, access_log=False
    )
