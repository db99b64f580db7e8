"""Test support: a real server on a free port, test data through the real API."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
import uvicorn
from redis.asyncio import Redis

from livecommerce.accounts.store import create_user
from livecommerce.app import Parts, PartsFactory, create_app, default_parts
from livecommerce.clock import Clock
from livecommerce.components import bind
from livecommerce.db.engine import Database
from livecommerce.server import uvicorn_config
from livecommerce.services import Services
from livecommerce.settings import Settings
from streaming import api as streaming_api
from streaming import hls_api
from streaming.component import StreamingComponent

C = TypeVar("C")

#: One scaled unit for every wait in the tests: a slow machine raises TEST_TIME_SCALE.
SCALE = float(os.environ.get("TEST_TIME_SCALE", "1"))


def seconds(n: float) -> float:
    return n * SCALE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def streaming_only(services: Services) -> Parts:
    """An app whose only part is the relay (WHIP/WHEP and media health)."""
    streaming = StreamingComponent(services)
    return Parts(
        components=[streaming],
        apis=[bind(streaming_api.api, streaming), bind(hls_api.api, streaming)],
    )


class ServerThread:
    """A real uvicorn server for ``create_app(settings)`` in a thread of its own."""

    def __init__(
        self,
        settings: Settings,
        *,
        parts: PartsFactory = default_parts,
        clock: Clock | None = None,
    ) -> None:
        self.port = free_port()
        # Each server is a node of its own, as each `livecommerce serve` process is (two
        # threads built from one Settings would otherwise share its random node id).
        settings = settings.with_(
            node_id=secrets.token_hex(6), node_url=f"http://127.0.0.1:{self.port}"
        )
        #: The server's wall clock: ``server.clock.advance(days=31)`` moves it at once.
        self.clock = clock or Clock(offset_s=settings.clock_offset_s)
        self.url = f"http://127.0.0.1:{self.port}"
        self._parts: Parts | None = None

        def build(services: Services) -> Parts:
            self._parts = parts(services)
            return self._parts

        self.app = create_app(settings, parts=build, clock=self.clock)
        # What `livecommerce serve` runs (livecommerce.server), with pings off and a
        # short graceful shutdown.
        config = uvicorn_config(
            self.app,
            settings,
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            ws_ping_interval=None,
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = seconds(30)
        waited = 0.0
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("test server failed to start")
            threading.Event().wait(0.01)
            waited += 0.01
            if waited > deadline:
                raise RuntimeError("test server did not start in time")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(seconds(20))

    def component(self, kind: type[C]) -> C:
        """The app's running component of type ``kind``."""
        assert self._parts is not None
        found = [c for c in self._parts.components if isinstance(c, kind)]
        assert len(found) == 1, f"the app has {len(found)} {kind.__name__} components"
        return found[0]


def unique(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def hyperloglog_count(redis: Redis, members: Sequence[str]) -> int:
    """What a Redis HyperLogLog counts for exactly ``members`` (a scratch key, deleted).
    Unique visitors are such a count: two members sharing one of its 16,384 registers
    (~0.1 % for 7 random ones) count as one, so a test compares with this, not len()."""
    scratch = f"t:{{hll-{uuid.uuid4().hex}}}"
    try:
        await redis.pfadd(scratch, *members)
        return int(await redis.pfcount(scratch))
    finally:
        await redis.delete(scratch)


def random_address() -> str:
    """A random client address in 10.0.0.0/8 (send it as X-Forwarded-For)."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


class Actors:
    """Makes users of every role and catalog/session data through the real HTTP API
    (and SQL only where no public endpoint exists: creating privileged users)."""

    def __init__(self, client: httpx.AsyncClient, db: Database) -> None:
        self.client = client
        self.db = db

    async def user(self, role: str = "viewer", *, brand_id: int | None = None) -> dict[str, Any]:
        """A new user of ``role``; returns ``{"id", "email", "token", "headers"}``."""
        email = f"{unique(role)}@test.livecommerce.dev"
        password = "correct horse battery"
        # Each user comes from an address of its own (uvicorn trusts X-Forwarded-For from
        # 127.0.0.1), as real users do: the per-address sign-up throttle then counts only
        # what a test itself does from one address.
        address = {"X-Forwarded-For": random_address()}
        if role in ("viewer", "host"):
            r = await self.client.post(
                "/api/auth/signup",
                json={"email": email, "password": password, "display_name": role, "role": role},
                headers=address,
            )
            assert r.status_code == 201, r.text
        else:
            async with self.db.sessions() as session:
                await create_user(
                    session,
                    email=email,
                    password=password,
                    display_name=role,
                    role=role,
                    brand_id=brand_id,
                )
                await session.commit()
        r = await self.client.post(
            "/api/auth/login", json={"email": email, "password": password}, headers=address
        )
        assert r.status_code == 200, r.text
        body = r.json()
        token = body["token"]
        return {
            "id": body["user"]["id"],
            "email": email,
            "token": token,
            "headers": {"Authorization": f"Bearer {token}"},
        }

    async def brand(self) -> tuple[int, dict[str, Any]]:
        """A new brand and a user who manages it."""
        admin = await self.user("admin")
        r = await self.client.post(
            "/api/brands", json={"name": "Brand", "slug": unique("brand")}, headers=admin["headers"]
        )
        assert r.status_code == 201, r.text
        brand_id = r.json()["id"]
        return brand_id, await self.user("brand", brand_id=brand_id)

    async def product(
        self,
        *,
        stock: int = 10,
        price: int = 1000,
        commission_bps: int = 1000,
        variants: int = 1,
        owner: tuple[int, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        brand_id, brand_user = owner or await self.brand()
        r = await self.client.post(
            f"/api/brands/{brand_id}/products",
            json={
                "name": unique("Product"),
                "price_minor": price,
                "currency": "USD",
                "commission_bps": commission_bps,
                "variants": [
                    {"sku": unique("SKU"), "name": f"V{i}", "stock_total": stock}
                    for i in range(variants)
                ],
            },
            headers=brand_user["headers"],
        )
        assert r.status_code == 201, r.text
        product: dict[str, Any] = r.json()
        return product

    async def show(
        self,
        host: dict[str, Any] | None = None,
        *,
        product_ids: Sequence[int] = (),
        live: bool = False,
    ) -> dict[str, Any]:
        host = host or await self.user("host")
        r = await self.client.post(
            "/api/sessions",
            json={"title": unique("Show"), "product_ids": list(product_ids)},
            headers=host["headers"],
        )
        assert r.status_code == 201, r.text
        show: dict[str, Any] = r.json()
        if live:
            r = await self.client.post(f"/api/sessions/{show['id']}/start", headers=host["headers"])
            assert r.status_code == 200, r.text
            show = r.json()
        show["host"] = host
        return show


async def wait_for(predicate: Any, *, timeout: float = 5.0, interval: float = 0.02) -> None:
    """Poll an (async or sync) predicate until true, or fail after ``timeout`` (scaled)."""
    deadline = asyncio.get_running_loop().time() + seconds(timeout)
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {seconds(timeout)} s")
        await asyncio.sleep(interval)
