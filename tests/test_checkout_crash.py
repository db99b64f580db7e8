"""Crash tests: a flash sale under load, then ``kill -9`` of the server (and, separately,
of the Redis server, AOF on), restart, ``livecommerce reconcile``. Checked: nothing
oversold, every "confirmed" reply has its order in SQL, no authorization used twice,
every hold returned or confirmed, and reconcile finds sold + held + available = total.

Real processes: a private valkey-server and ``livecommerce serve`` subprocesses over
SQLite in a temp dir (they do not use the suite's shared server).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from livecommerce import keys
from livecommerce.db.engine import Database
from livecommerce.db.migrate import migrate
from livecommerce.db.models import Order, OrderItem, Payment
from livecommerce.settings import Settings
from livecommerce.valkey import EmbeddedValkey
from tests.cart_support import bulk_buyers
from tests.support import free_port, seconds, wait_for

pytestmark = pytest.mark.slow

SECRET = "crash-test-secret-key-0123456789"
STOCK = 40
BUYERS = 240


@dataclass
class Stack:
    directory: Path
    valkey: EmbeddedValkey
    database_url: str
    env: dict[str, str]
    server: subprocess.Popen[bytes] | None = None
    url: str = ""
    logs: list[Path] = field(default_factory=list)

    def start_server(self) -> None:
        port = free_port()
        log = self.directory / f"serve-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "livecommerce.cli", "serve", "--port", str(port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{port}"

    async def ready(self) -> None:
        async def up() -> bool:
            assert self.server is not None
            if self.server.poll() is not None:
                raise AssertionError(self.logs[-1].read_text()[-3000:])
            try:
                async with httpx.AsyncClient() as c:
                    return (await c.get(self.url + "/readyz", timeout=1)).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_for(up, timeout=90, interval=0.1)  # a loaded CI box starts slowly

    def kill_server(self) -> None:
        assert self.server is not None
        os.kill(self.server.pid, signal.SIGKILL)
        self.server.wait()

    def stop_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGINT)
            try:
                self.server.wait(seconds(15))
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    # everysec is enough for I2/I1 against kill -9 of valkey: the AOF is written to the
    # kernel before any reply leaves the server; only a machine crash loses the last second.
    valkey = EmbeddedValkey(tmp_path / "valkey", appendonly=True, appendfsync="everysec")
    redis_url = await valkey.astart()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    await asyncio.to_thread(migrate, database_url)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET,
        "LIVECOMMERCE_DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
        "HOLD_TTL_S": "2",
        "REAPER_INTERVAL_S": "0.2",
    }
    s = Stack(tmp_path, valkey, database_url, env)
    try:
        yield s
    finally:
        s.stop_server()
        await valkey.astop()


async def _seed(stack: Stack) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from tests.support import Actors

    db = Database(stack.database_url)
    try:
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
            actors = Actors(client, db)
            product = await actors.product(stock=STOCK)
            show = await actors.show(product_ids=[product["id"]], live=True)
        settings = Settings(database_url=stack.database_url, secret_key=SECRET)
        buyers = await bulk_buyers(db, settings, BUYERS)
    finally:
        await db.dispose()
    product["show_id"] = show["id"]
    return product, buyers


async def _sale(
    stack: Stack,
    product: dict[str, Any],
    buyers: list[dict[str, Any]],
    *,
    crash_after: int,
    crash: Callable[[], Any],
) -> list[httpx.Response | None]:
    """Every buyer taps Buy once, arrivals spread over ~1.5 s; after ``crash_after``
    confirmed replies, ``crash`` runs. Failed requests are None."""
    confirmed = asyncio.Event()
    count = 0
    limits = httpx.Limits(max_connections=len(buyers), max_keepalive_connections=0)
    body = {
        "product_id": product["id"],
        "variant_id": product["variants"][0]["id"],
        "quantity": 1,
        "session_id": product["show_id"],
    }

    async with httpx.AsyncClient(base_url=stack.url, timeout=30, limits=limits) as client:

        async def one(i: int, user: dict[str, Any]) -> httpx.Response | None:
            nonlocal count
            await asyncio.sleep(1.5 * i / len(buyers))  # this buyer's arrival time
            headers = {**user["headers"], "Idempotency-Key": uuid.uuid4().hex}
            try:
                r = await client.post("/api/buy", json=body, headers=headers)
            except httpx.HTTPError:
                return None
            if r.status_code == 201:
                count += 1
                if count >= crash_after:
                    confirmed.set()
            return r

        tasks = [asyncio.create_task(one(i, u)) for i, u in enumerate(buyers)]
        await asyncio.wait_for(confirmed.wait(), seconds(30))
        result = crash()
        if asyncio.iscoroutine(result):
            await result
        return list(await asyncio.gather(*tasks))


async def _check(stack: Stack, product: dict[str, Any], replies: list[Any]) -> None:
    confirmed = [r.json()["id"] for r in replies if r is not None and r.status_code == 201]
    statuses = {r.status_code if r is not None else None for r in replies}
    assert statuses <= {201, 409, 503, None}, statuses  # never a 500
    redis = Redis.from_url(stack.valkey.url)
    db = Database(stack.database_url)
    try:
        # holds come back (I4): within TTL + reaper interval of the restarted server
        async def no_holds() -> bool:
            return await redis.zcard(keys.product_holds(product["id"])) == 0

        await wait_for(no_holds, timeout=30)
        rc = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "livecommerce.cli", "reconcile"],
            env=stack.env,
            capture_output=True,
            text=True,
        )
        assert rc.returncode == 0, rc.stdout + rc.stderr
        async with db.sessions() as session:
            in_sql = set(await session.scalars(select(Order.id).where(Order.id.in_(confirmed))))
            sold = await session.scalar(
                select(func.coalesce(func.sum(OrderItem.quantity), 0)).where(
                    OrderItem.product_id == product["id"]
                )
            )
            auths = list(
                await session.scalars(
                    select(Payment.authorization_id)
                    .join(OrderItem, OrderItem.order_id == Payment.order_id)
                    .where(OrderItem.product_id == product["id"])
                )
            )
        assert in_sql == set(confirmed)  # I2: every "confirmed" reply has its order
        assert sold <= STOCK  # I1: nothing oversold
        assert len(auths) == len(set(auths))  # I3: no authorization used twice
        variants = await redis.hgetall(keys.product_stock(product["id"]))
        available = sum(int(v) for v in variants.values())
        assert sold + available == STOCK  # and nothing lost: every unit sold or on sale
    finally:
        await redis.aclose()
        await db.dispose()


async def test_kill_9_server_mid_sale(stack: Stack) -> None:
    stack.start_server()
    await stack.ready()
    product, buyers = await _seed(stack)
    replies = await _sale(stack, product, buyers, crash_after=10, crash=stack.kill_server)
    assert sum(1 for r in replies if r is not None and r.status_code == 201) >= 10
    assert any(r is None for r in replies)  # the crash really cut requests off
    stack.start_server()
    await stack.ready()
    await _check(stack, product, replies)


async def test_redis_restart_mid_sale(stack: Stack) -> None:
    stack.start_server()
    await stack.ready()
    product, buyers = await _seed(stack)

    async def restart_redis() -> None:
        stack.valkey.kill()  # kill -9
        await stack.valkey.astart()  # same directory: replays the AOF

    replies = await _sale(stack, product, buyers, crash_after=10, crash=restart_redis)
    assert sum(1 for r in replies if r is not None and r.status_code == 201) >= 10
    await _check(stack, product, replies)
