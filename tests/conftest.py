"""Fixtures: a real Valkey/Redis, a migrated SQL database, a real server.

With no ``DATABASE_URL``/``REDIS_URL``, the suite is self-contained: a private
valkey-server and a SQLite file under a temporary directory. With them set
(CI's second pass), the same tests run against PostgreSQL and Redis; the
database schema and the Redis database are wiped at the start. A cluster URL
(``REDIS_URL=redis+cluster://…``, CI's cluster pass: ``scripts/test_cluster``) runs
them against a Redis/Valkey Cluster through redis-py's cluster client; every master
is wiped.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis as sync_redis
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from livecommerce import redisclient
from livecommerce.db.engine import Database
from livecommerce.db.migrate import migrate
from livecommerce.settings import Settings
from livecommerce.valkey import EmbeddedValkey
from tests.support import Actors, ServerThread, random_address, streaming_only


def _reset_postgres(url: str) -> None:
    async def reset() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("livecommerce")


@pytest.fixture(scope="session")
def redis_url(data_dir: Path) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url and redisclient.is_cluster_url(url):
        cluster = sync_redis.RedisCluster.from_url(redisclient.plain_url(url))
        cluster.flushdb(target_nodes=sync_redis.RedisCluster.PRIMARIES)
        # redis-py's sync cluster close() leaves each node's pooled connection open:
        # close them here rather than leave three sockets to the garbage collector
        nodes = cluster.get_nodes()
        cluster.close()
        for node in nodes:
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()
        yield url
        return
    if url:
        client = sync_redis.Redis.from_url(url)
        client.flushdb()
        client.close()
        yield url
        return
    with EmbeddedValkey(data_dir / "valkey") as valkey:
        yield valkey.url


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        _reset_postgres(url)
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'test.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def settings(data_dir: Path, database_url: str, redis_url: str) -> Settings:
    return Settings(
        environment="test",
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret-key-0123456789",
        hold_ttl_s=5,
        reaper_interval_s=0.2,
    )


@pytest.fixture(scope="session")
def server(settings: Settings) -> Iterator[ServerThread]:
    """One real server (all components) for the whole session."""
    thread = ServerThread(settings).start()
    yield thread
    thread.stop()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    """A redis-py client on the suite's Redis (its private valkey or REDIS_URL)."""
    assert settings.redis_url is not None
    client = redisclient.connect(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def client(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    # Each test is a client of its own address (X-Forwarded-For, trusted from loopback),
    # as real users are: the per-address sign-in and sign-up throttles then count what
    # one test does, not the whole suite's traffic from 127.0.0.1.
    headers = {"X-Forwarded-For": random_address()}
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=headers) as c:
        yield c


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def actors(client: httpx.AsyncClient, db: Database) -> Actors:
    return Actors(client, db)


@pytest.fixture
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """None of these abuses is the server's fault: no ERROR line, no traceback (the
    edge tests use it: ``pytestmark = pytest.mark.usefixtures("no_server_errors")``)."""
    caplog.set_level(logging.WARNING)
    yield
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]


@pytest.fixture(scope="module")
def edge(settings: Settings) -> Iterator[ServerThread]:
    """A server with short deadlines and windows, and configured foreign origins."""
    thread = ServerThread(
        settings.with_(
            http_header_timeout_s=1.0,
            auth_window_s=2,
            cors_origins=("https://shop.example",),
            frame_ancestors=("https://brand.example",),
        )
    ).start()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def stream_server(settings: Settings) -> Iterator[ServerThread]:
    """A server whose only part is the relay (WHIP/WHEP), one per test module."""
    thread = ServerThread(settings, parts=streaming_only).start()
    yield thread
    thread.stop()


@pytest.fixture
async def sclient(stream_server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stream_server.url, timeout=30) as c:
        yield c


@pytest.fixture
async def sactors(sclient: httpx.AsyncClient, db: Database) -> Actors:
    return Actors(sclient, db)
