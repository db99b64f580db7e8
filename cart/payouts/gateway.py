"""Payout gateways: the interface the payouts job sends money through, and a test one.

A gateway moves ``amount_minor`` of ``currency`` to a creator. :meth:`PayoutGateway.send`
takes an idempotency key (the payout's id): sending the same key again, from any process,
at any later time, returns the first transfer and never makes a second one. That is what
lets a payouts run killed mid-way simply send its unfinished payouts again (I8).

The test gateway (``test``) needs no network: its "bank" is a JSON-lines file
(``<LIVECOMMERCE_DATA_DIR>/test-payouts.jsonl``), one line per transfer, written under an
``flock`` and fsynced before it answers, so it is an independent witness of what was paid
that survives a ``kill -9`` of the payouts job. ``PAYOUT_TEST_DELAY_S`` (tests only) makes
it answer that long *after* recording a transfer: the crash test kills the job there.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["PayoutGateway", "TestPayoutGateway", "Transfer", "payout_gateway"]


@dataclass(frozen=True)
class Transfer:
    id: str
    creator_id: int
    amount_minor: int
    currency: str
    idempotency_key: str


class PayoutGateway(Protocol):
    name: str

    async def send(
        self, *, creator_id: int, amount_minor: int, currency: str, idempotency_key: str
    ) -> Transfer:
        """Pay the creator. The same ``idempotency_key`` returns the first transfer (with
        its amount), never a second one."""
        ...


class TestPayoutGateway:
    """Records transfers in a JSON-lines file; see the module doc."""

    __test__ = False  # not a pytest test class
    name = "test"

    def __init__(self, path: Path, *, delay_s: float = 0.0) -> None:
        self.path = path
        self.delay_s = delay_s

    async def send(
        self, *, creator_id: int, amount_minor: int, currency: str, idempotency_key: str
    ) -> Transfer:
        transfer = await asyncio.to_thread(
            self._record, creator_id, amount_minor, currency, idempotency_key
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)  # the simulated bank answers late, on purpose
        return transfer

    def transfers(self) -> list[Transfer]:
        """Every transfer made, in order."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        return [Transfer(**json.loads(line)) for line in text.splitlines() if line.strip()]

    def _record(
        self, creator_id: int, amount_minor: int, currency: str, idempotency_key: str
    ) -> Transfer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes (or the process dies)
            f.seek(0)
            for line in f.read().splitlines():
                if line.strip():
                    found = Transfer(**json.loads(line))
                    if found.idempotency_key == idempotency_key:
                        return found
            transfer = Transfer(
                id=f"tpo_{idempotency_key}",
                creator_id=creator_id,
                amount_minor=amount_minor,
                currency=currency,
                idempotency_key=idempotency_key,
            )
            f.write(json.dumps(transfer.__dict__) + "\n")
            f.flush()
            os.fsync(f.fileno())
            return transfer


def payout_gateway(data_dir: Path, *, delay_s: float = 0.0) -> PayoutGateway:
    """The deployment's payout gateway (today the test one; a real adapter goes here)."""
    return TestPayoutGateway(data_dir / "test-payouts.jsonl", delay_s=delay_s)
