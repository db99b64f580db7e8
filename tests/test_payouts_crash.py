"""Crash test: ``kill -9`` of ``livecommerce payouts`` mid-run, then a rerun. Checked:
every payable entry paid exactly once, in exactly one payout, each creator paid the sum of
their entries to the cent, the gateway asked once per payout (a re-send with the same
idempotency key returns the first transfer), entries not yet payable untouched, and the
books balance (I8).

Real processes over SQLite in a temp dir: the job is the ``livecommerce payouts`` command;
the test gateway's file is the "bank" (see cart/payouts/gateway.py). The kill lands
where it hurts most: the bank has recorded the first transfer and the job is waiting for
its answer (``PAYOUT_TEST_DELAY_S``), so SQL still says ``processing``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cart.payouts.check import check_books
from cart.payouts.gateway import TestPayoutGateway
from livecommerce.clock import Clock
from livecommerce.db.engine import Database
from livecommerce.db.migrate import migrate
from livecommerce.db.models import Brand, CommissionEntry, Order, Payout, Product, User
from tests.support import seconds, wait_for

pytestmark = pytest.mark.slow

CREATORS = 6
#: Odd amounts, so a payout of the wrong entries cannot add up by chance.
AMOUNTS = (333, 1001, 77, 2499)
OFFSET_S = 31 * 86400  # the job runs 31 days ahead: today's entries are payable


async def _seed(db: Database) -> dict[int, int]:
    """CREATORS creators with payable entries, plus a not-yet-payable entry and a reversed
    pair each; returns creator id -> the amount they must be paid."""
    now = Clock().now()
    tag = uuid.uuid4().hex[:8]
    expected: dict[int, int] = {}
    async with db.sessions() as session, session.begin():
        brand = Brand(name="B", slug=f"b-{tag}")
        buyer = User(email=f"buyer-{tag}@t.dev", display_name="b", password_hash="x")
        session.add_all([brand, buyer])
        await session.flush()
        product = Product(brand_id=brand.id, name="P", price_minor=10_000, currency="USD")
        session.add(product)
        creators = [
            User(email=f"c{i}-{tag}@t.dev", display_name="c", password_hash="x", role="host")
            for i in range(CREATORS)
        ]
        session.add_all(creators)
        await session.flush()
        for n, creator in enumerate(creators):
            amounts = [a + n for a in AMOUNTS]
            expected[creator.id] = sum(amounts)
            rows = [(a, now, "earned", "pending") for a in amounts]
            rows.append((555, now + timedelta(days=40), "earned", "pending"))  # not yet due
            rows += [(900, now, "earned", "reversed"), (-900, now, "reversed", "reversed")]
            for amount, payable_at, kind, status in rows:
                order = Order(
                    id=str(uuid.uuid4()),
                    user_id=buyer.id,
                    creator_id=creator.id,
                    status="paid",
                    total_minor=10_000,
                    currency="USD",
                    idempotency_key=uuid.uuid4().hex,
                )
                session.add(order)
                await session.flush()
                session.add(
                    CommissionEntry(
                        order_id=order.id,
                        creator_id=creator.id,
                        product_id=product.id,
                        kind=kind,
                        rate_bps=1000,
                        amount_minor=amount,
                        currency="USD",
                        status=status,
                        payable_at=payable_at,
                    )
                )
    return expected


def _job(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "livecommerce.cli", "payouts"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_kill_9_mid_run_then_rerun_pays_every_entry_exactly_once(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'payouts.db'}"
    await asyncio.to_thread(migrate, database_url)
    db = Database(database_url)
    try:
        expected = await _seed(db)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LIVECOMMERCE_DATA_DIR": str(tmp_path),
            "LIVECOMMERCE_ENV": "test",
            "SECRET_KEY": "payouts-crash-secret-0123456789",
            "LOG_LEVEL": "WARNING",
            "CLOCK_OFFSET_S": str(OFFSET_S),
            "PAYOUT_MINIMUM_MINOR": "100",
        }
        bank = TestPayoutGateway(tmp_path / "test-payouts.jsonl")
        log = tmp_path / "payouts.log"

        job = _job({**env, "PAYOUT_TEST_DELAY_S": "600"}, log)
        try:
            await wait_for(lambda: job.poll() is not None or len(bank.transfers()) >= 1, timeout=60)
            assert job.poll() is None, log.read_text()
            os.kill(job.pid, signal.SIGKILL)
        finally:
            job.kill()
            job.wait()
        # Mid-run: the bank paid one payout that SQL still calls processing; the other
        # creators' entries are unclaimed.
        async with db.sessions() as session:
            statuses = list(await session.scalars(select(Payout.status)))
        assert statuses == ["processing"] and len(bank.transfers()) == 1

        rerun = _job(env, log)
        assert rerun.wait(seconds(60)) == 0, log.read_text()
        summary = json.loads(log.read_text().strip().splitlines()[-1])
        assert len(summary["resumed"]) == 1 and len(summary["paid"]) == CREATORS - 1
        assert summary["balanced"] is True

        transfers = bank.transfers()
        keys = [t.idempotency_key for t in transfers]
        assert len(keys) == len(set(keys)) == CREATORS  # the resumed one was not paid twice
        assert {t.creator_id: t.amount_minor for t in transfers} == expected
        async with db.sessions() as session:
            payouts = {p.id: p for p in await session.scalars(select(Payout))}
            entries = list(await session.scalars(select(CommissionEntry)))
        assert set(payouts) == set(keys)
        assert all(p.status == "paid" for p in payouts.values())
        paid = [e for e in entries if e.status == "paid"]
        assert len(paid) == CREATORS * len(AMOUNTS)
        for payout in payouts.values():
            mine = [e.amount_minor for e in paid if e.payout_id == payout.id]
            assert sum(mine) == payout.amount_minor == expected[payout.creator_id]
            assert len(mine) == payout.entry_count
        untouched = [e for e in entries if e.status != "paid"]
        assert all(e.payout_id is None for e in untouched)
        assert sorted({e.amount_minor for e in untouched}) == [-900, 555, 900]

        # A third run: nothing left to pay, nothing sent.
        third = _job(env, log)
        assert third.wait(seconds(60)) == 0, log.read_text()
        assert len(bank.transfers()) == CREATORS
        async with db.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Payout)) == CREATORS
        books = await check_books(db, now=Clock(offset_s=OFFSET_S).now())
        assert books.balanced, books
        assert books.currencies["USD"]["paid"] == sum(expected.values())
        assert books.currencies["USD"]["pending"] == 555 * CREATORS
    finally:
        await db.dispose()


async def test_the_worker_loop_pays_on_its_interval(tmp_path: Path) -> None:
    """PAYOUT_INTERVAL_S > 0 adds the loop to the cart's jobs; the loop pays what is due."""
    from cart.component import CartComponent
    from cart.payouts.run import payouts_loop
    from livecommerce.services import Services
    from livecommerce.settings import Settings

    database_url = f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}"
    settings = Settings(database_url=database_url, secret_key="k" * 32, data_dir=tmp_path)
    assert len(CartComponent(Services(settings)).jobs()) == 1
    assert len(CartComponent(Services(settings.with_(payout_interval_s=60))).jobs()) == 2

    await asyncio.to_thread(migrate, database_url)
    db = Database(database_url)
    bank = TestPayoutGateway(tmp_path / "bank.jsonl")
    clock = Clock(offset_s=OFFSET_S)
    try:
        expected = await _seed(db)
        loop = asyncio.create_task(
            payouts_loop(db, bank, clock=clock.now, minimum_minor=100, interval_s=0.05)
        )
        try:
            await wait_for(lambda: len(bank.transfers()) == CREATORS, timeout=30)
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        assert {t.creator_id: t.amount_minor for t in bank.transfers()} == expected
        assert (await check_books(db, now=clock.now())).balanced
    finally:
        await db.dispose()
