"""One write transaction as one step for the event loop: for a busy writer (the order
writer's group commits).

With aiosqlite every statement is a hop to the driver's thread and back, and each hop
waits its turn on a busy event loop: a 30-order batch (begin, four inserts, commit) took
8-100 ms mid-sale while SQLite needed a few. On SQLite, :class:`TransactionRunner` runs
the whole transaction in its own thread on a synchronous connection, one hop in all.
That thread also takes an ``flock`` on ``<database>.writelock`` around each transaction:
SQLite has one writer at a time, and a writer that finds it busy sleeps in SQLite's
busy handler in steps of up to 100 ms, while the ``flock`` queue hands the turn to the
next process's writer at once (the kernel drops the lock of a process that dies).
On PostgreSQL the transaction runs on the async engine (``run_sync``), as before.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, create_engine, event

from livecommerce.db.engine import Database, sqlite_pragmas

__all__ = ["TransactionRunner"]

T = TypeVar("T")


class TransactionRunner:
    """Call :meth:`run` from the event loop; :meth:`close` when done."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._path = db.sqlite_path
        self._thread: ThreadPoolExecutor | None = None
        self._engine = None
        self._lock_fd: int | None = None
        if self._path is not None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sql-writer")
            self._engine = create_engine(f"sqlite:///{self._path}", connect_args={"timeout": 30})
            event.listen(self._engine, "connect", sqlite_pragmas)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` inside one transaction, committed when it returns and
        rolled back if it raises (the exception is re-raised here)."""
        if self._thread is None:
            async with self.db.engine.begin() as conn:
                return await conn.run_sync(work)
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._locked, work)

    def _locked(self, work: Callable[[Connection], T]) -> T:
        assert self._engine is not None and self._path is not None
        if self._lock_fd is None:
            self._lock_fd = os.open(self._path + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            with self._engine.begin() as conn:
                return work(conn)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    async def close(self) -> None:
        if self._thread is None:
            return
        await asyncio.get_running_loop().run_in_executor(self._thread, self._dispose)
        self._thread.shutdown(wait=True)
        self._thread = None

    def _dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
