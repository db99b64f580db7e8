"""Idempotency for checkout (``Idempotency-Key``): records in Redis and :func:`run_idempotent`.

The first request with a key claims it (SET NX, state ``running``) and, when done,
stores its reply (status and body) for ``ttl_s``. A retry with the same body gets
that reply; while the first is still running, the retry waits for it instead of
running a second checkout. A different body under the same key is a 422. The SQL
unique constraint on ``(user_id, idempotency_key)`` stays the last line of defence
if a record is lost (Redis restart without persistence, or an expired record).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from livecommerce import encoding, keys
from livecommerce.errors import BadRequest, Conflict, IdempotencyMismatch, LivecommerceError
from livecommerce.redismux import RedisMux

if TYPE_CHECKING:
    from cart.schemas import OrderOut

log = logging.getLogger("livecommerce.cart")

__all__ = ["IdempotencyStore", "Replay", "check_key", "fingerprint", "run_idempotent"]

_MAX_KEY = 200


def check_key(key: str | None) -> str:
    """The header's value, validated; raises 400 when it is missing or malformed."""
    if key is None or not key.strip():
        raise BadRequest(
            "this endpoint needs an 'Idempotency-Key' header (a unique string per purchase)",
            code="idempotency_key_required",
        )
    key = key.strip()
    if len(key) > _MAX_KEY or not key.isprintable():
        raise BadRequest(
            f"Idempotency-Key must be 1-{_MAX_KEY} printable characters",
            code="bad_idempotency_key",
        )
    return key


def fingerprint(endpoint: str, body: Any) -> str:
    """A stable hash of what the request asks for (endpoint + canonical JSON body)."""
    return hashlib.sha256(endpoint.encode() + b"\n" + encoding.dumps(body)).hexdigest()[:32]


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any


class IdempotencyStore:
    def __init__(
        self,
        mux: RedisMux,
        *,
        ttl_s: int = 24 * 3600,
        running_ttl_s: int = 300,
        wait_s: float = 30.0,
        poll_s: float = 0.05,
    ) -> None:
        self.mux = mux
        self.ttl_s = ttl_s
        #: A crashed process's ``running`` record frees the key after this long.
        self.running_ttl_s = running_ttl_s
        #: A retry waits this long for the first request with its key, looking every ``poll_s``.
        self.wait_s = wait_s
        self.poll_s = poll_s

    async def begin(self, user_id: int, key: str, fp: str) -> Replay | None:
        """None: the caller runs the request and must call :meth:`finish` or :meth:`abandon`.
        A :class:`Replay`: the stored reply of an earlier request with this key."""
        rkey = keys.idempotency(user_id, key)
        running = encoding.dumps({"h": fp, "s": "running"})
        if await self._claim(rkey, running, self.running_ttl_s):
            return None
        return await self._replay(rkey, fp, running)

    async def _claim(self, rkey: str, record: bytes, ttl_s: int) -> bool:
        return await self.mux.execute("SET", rkey, record, "NX", "EX", ttl_s) is not None

    async def record(
        self, user_id: int, key: str, fp: str, status: int, body: Any
    ) -> Replay | None:
        """One step for a reply known before running anything (e.g. sold out): store it
        unless the key is taken. None: stored, send it; a Replay: the key's earlier reply."""
        rkey = keys.idempotency(user_id, key)
        done = encoding.dumps({"h": fp, "s": "done", "status": status, "body": body})
        if await self._claim(rkey, done, self.ttl_s):
            return None
        return await self._replay(rkey, fp, done)

    async def _replay(self, rkey: str, fp: str, claim: bytes) -> Replay | None:
        deadline = time.monotonic() + self.wait_s
        while True:
            raw = await self.mux.execute("GET", rkey)
            if raw is None:
                # The first attempt was abandoned (or its record expired): run it again.
                if await self._claim(rkey, claim, self.running_ttl_s):
                    return None
                continue
            record = encoding.loads(raw)
            if record["h"] != fp:
                raise IdempotencyMismatch(
                    "this Idempotency-Key was used with a different request body; "
                    "use a new key for a new purchase",
                )
            if record["s"] == "done":
                return Replay(status=int(record["status"]), body=record["body"])
            if time.monotonic() > deadline:
                raise Conflict(
                    "a request with this Idempotency-Key is still being processed; retry later",
                    code="idempotency_in_progress",
                )
            await asyncio.sleep(self.poll_s)  # polling the first attempt's record

    async def finish(self, user_id: int, key: str, fp: str, status: int, body: Any) -> None:
        record = {"h": fp, "s": "done", "status": status, "body": body}
        await self.mux.execute(
            "SET", keys.idempotency(user_id, key), encoding.dumps(record), "EX", self.ttl_s
        )

    async def abandon(self, user_id: int, key: str) -> None:
        """Forget a request that failed in a way worth retrying (5xx)."""
        await self.mux.execute("DEL", keys.idempotency(user_id, key))


async def _quietly(step: Awaitable[None]) -> None:
    try:
        await step
    except Exception:  # noqa: BLE001 - best effort; the original error is what matters
        log.warning("idempotency clean-up failed", exc_info=True)


async def run_idempotent(
    store: IdempotencyStore,
    *,
    user_id: int,
    key: str,
    fp: str,
    instance: str,
    run: Callable[[], Awaitable[OrderOut]],
    known: LivecommerceError | None = None,
) -> tuple[int, Any, bool]:
    """Run ``run`` at most once per (user, key). Returns (status, body, replayed).

    A 4xx error is recorded and re-raised (the same key replays it); a 5xx or a crash
    forgets the key so a retry runs again (SQL uniqueness still prevents a second order).
    ``known``: a 4xx answer decided without running (sold out), recorded in one step.
    """
    if known is not None:
        replay = await store.record(
            user_id, key, fp, known.status, known.problem(instance=instance)
        )
        if replay is None:
            raise known
        return replay.status, replay.body, True
    replay = await store.begin(user_id, key, fp)
    if replay is not None:
        return replay.status, replay.body, True
    try:
        order = await run()
    except LivecommerceError as exc:
        if exc.status >= 500:
            await _quietly(store.abandon(user_id, key))
        else:
            await store.finish(user_id, key, fp, exc.status, exc.problem(instance=instance))
        raise
    except BaseException:
        # e.g. Redis restarting: if forgetting fails too, the record's short TTL frees it
        await _quietly(store.abandon(user_id, key))
        raise
    body = order.model_dump(mode="json")
    await store.finish(user_id, key, fp, 201, body)
    return 201, body, False
