"""Response models of the payout statements."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from cart.schemas import EarningEntryOut

__all__ = ["PayoutOut", "PayoutPage", "PayoutStatementOut"]


class PayoutOut(BaseModel):
    #: Also the idempotency key the payout gateway was sent.
    id: str
    currency: str
    amount_minor: int
    entry_count: int
    #: processing (claimed; the gateway has not confirmed yet) or paid.
    status: str
    gateway: str
    transfer_id: str | None
    created_at: datetime
    paid_at: datetime | None


class PayoutPage(BaseModel):
    items: list[PayoutOut]
    next_offset: int | None


class PayoutStatementOut(PayoutOut):
    #: The ledger entries it paid (their sum is ``amount_minor``), oldest first.
    entries: list[EarningEntryOut]
