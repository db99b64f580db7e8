"""The app's services: everything a handler or component needs, built once per app.

``create_app`` builds one :class:`Services` in its lifespan and stores it on
``app.state.services``. Components (hub, cart, relay) are registered by type
and looked up with :meth:`Services.get`, so packages stay decoupled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from redis.asyncio import Redis

from livecommerce.auth.tokens import TokenSigner
from livecommerce.db.engine import Database
from livecommerce.events import EventBus
from livecommerce.metrics import Metrics
from livecommerce.redismux import RedisMux
from livecommerce.settings import Settings

__all__ = ["Services"]

T = TypeVar("T")


class Services:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        redis: Redis,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        mux: RedisMux | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        #: The same Redis for hot-path commands, auto-pipelined (see livecommerce.redismux).
        self.mux = mux or RedisMux.for_client(redis)
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.tokens = TokenSigner(settings.secret_key, ttl_s=settings.token_ttl_s)
        self.events = EventBus()
        self._components: dict[type[Any], Any] = {}

    def register(self, component: Any) -> None:
        self._components[type(component)] = component

    def get(self, kind: type[T]) -> T:
        """The registered component of type ``kind`` (KeyError if not running)."""
        return self._components[kind]

    def find(self, kind: type[T]) -> T | None:
        return self._components.get(kind)
