"""The app's shared infrastructure, built once per app and handed to every part.

``create_app`` builds one :class:`Services` and passes it to each component's
constructor and to the core HTTP handlers; :meth:`Services.open` connects Redis in
the app's lifespan. It is a plain bag of the infrastructure everything shares
(settings, SQL, Redis, metrics, tokens, the event bus, the clock), not a registry:
no part is looked up through it — the composition root (:mod:`livecommerce.app`)
hands each part the others it uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from livecommerce.auth.tokens import TokenSigner
from livecommerce.clock import Clock
from livecommerce.db.engine import Database
from livecommerce.events import EventBus
from livecommerce.metrics import Metrics
from livecommerce.redismux import RedisMux
from livecommerce.settings import Settings

__all__ = ["Services"]

#: Opens the app's Redis (or starts the private valkey-server) and registers its close.
RedisOpener = Callable[[Settings, contextlib.AsyncExitStack], Awaitable[Redis]]


class Services:
    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        metrics: Metrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        #: No connection is made until first use, in the app's event loop.
        self.db = db or Database(settings.database_url)
        self.metrics = metrics or Metrics()
        #: The wall clock every time-based rule reads (livecommerce.clock); tests move it.
        self.clock = clock or Clock(offset_s=settings.clock_offset_s)
        self.tokens = TokenSigner(settings.secret_key, ttl_s=settings.token_ttl_s)
        self.events = EventBus()
        self._redis: Redis | None = None
        self._mux: RedisMux | None = None

    async def open(self, stack: contextlib.AsyncExitStack, open_redis: RedisOpener) -> None:
        """Connect Redis (closed by ``stack``); the SQL engine is closed there too."""
        stack.push_async_callback(self.db.dispose)
        self._redis = await open_redis(self.settings, stack)
        self._mux = RedisMux.for_client(self._redis)
        stack.push_async_callback(self._mux.aclose)

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("Services.open() has not run: Redis is used before start-up")
        return self._redis

    @property
    def mux(self) -> RedisMux:
        """The same Redis for hot-path commands, auto-pipelined (livecommerce.redismux)."""
        if self._mux is None:
            raise RuntimeError("Services.open() has not run: Redis is used before start-up")
        return self._mux
