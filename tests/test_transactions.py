"""TransactionRunner on the suite's database: commit, rollback, the SQLite write lock."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import uuid

import pytest
from sqlalchemy import Connection, func, insert, select

from livecommerce.db.engine import Database
from livecommerce.db.models import Brand
from livecommerce.db.transactions import TransactionRunner


def _add_brand(conn: Connection, slug: str) -> None:
    conn.execute(insert(Brand).values(name=slug, slug=slug))


async def _brands(db: Database, slugs: list[str]) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).where(Brand.slug.in_(slugs))) or 0)


async def test_work_commits_when_it_returns_and_rolls_back_when_it_raises(db: Database) -> None:
    runner = TransactionRunner(db)
    ok, failed = f"tx-ok-{uuid.uuid4().hex[:8]}", f"tx-failed-{uuid.uuid4().hex[:8]}"

    def fail(conn: Connection) -> None:
        _add_brand(conn, failed)
        raise ValueError("the batch went wrong")

    try:
        await runner.run(lambda conn: _add_brand(conn, ok))
        with pytest.raises(ValueError, match="went wrong"):
            await runner.run(fail)
    finally:
        await runner.close()
    assert await _brands(db, [ok]) == 1
    assert await _brands(db, [failed]) == 0


async def test_a_writer_holds_the_database_write_lock_for_its_transaction(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("the write lock is SQLite's; PostgreSQL writers run side by side")
    runner = TransactionRunner(db)
    slug = f"tx-lock-{uuid.uuid4().hex[:8]}"
    inside, checked = threading.Event(), threading.Event()

    def work(conn: Connection) -> None:
        _add_brand(conn, slug)
        inside.set()
        checked.wait(5)  # hold the transaction open until the test has looked

    lock_path = db.url.split(":///", 1)[1] + ".writelock"
    # Another process's writer would open the lock file itself: so does the test.
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        running = asyncio.ensure_future(runner.run(work))
        assert await asyncio.to_thread(inside.wait, 5)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # taken while the work runs
        checked.set()
        await running
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once it committed
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        checked.set()
        os.close(fd)
        await runner.close()
    assert await _brands(db, [slug]) == 1
