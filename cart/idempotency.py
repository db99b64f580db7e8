"""Idempotency records for checkout (``Idempotency-Key``), kept in Redis.

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
import time
from dataclasses import dataclass
from typing import Any

from livecommerce import encoding, keys
from livecommerce.errors import BadRequest, Conflict, IdempotencyMismatch
from livecommerce.redismux import RedisMux

__all__ = ["IdempotencyStore", "Replay", "check_key", "fingerprint"]

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
    ) -> None:
        self.redis = mux
        self.ttl_s = ttl_s
        #: A crashed process's ``running`` record frees the key after this long.
        self.running_ttl_s = running_ttl_s
        self.wait_s = wait_s

    async def begin(self, user_id: int, key: str, fp: str) -> Replay | None:
        """None: the caller runs the request and must call :meth:`finish` or :meth:`abandon`.
        A :class:`Replay`: the stored reply of an earlier request with this key."""
        rkey = keys.idempotency(user_id, key)
        running = encoding.dumps({"h": fp, "s": "running"})
        if await self._claim(rkey, running, self.running_ttl_s):
            return None
        return await self._replay(rkey, fp, running)

    async def _claim(self, rkey: str, record: bytes, ttl_s: int) -> bool:
        return await self.redis.execute("SET", rkey, record, "NX", "EX", ttl_s) is not None

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
            raw = await self.redis.execute("GET", rkey)
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
            await asyncio.sleep(0.05)  # polling the first attempt's record

    async def finish(self, user_id: int, key: str, fp: str, status: int, body: Any) -> None:
        record = {"h": fp, "s": "done", "status": status, "body": body}
        await self.redis.execute(
            "SET", keys.idempotency(user_id, key), encoding.dumps(record), "EX", self.ttl_s
        )

    async def abandon(self, user_id: int, key: str) -> None:
        """Forget a request that failed in a way worth retrying (5xx)."""
        await self.redis.execute("DEL", keys.idempotency(user_id, key))
