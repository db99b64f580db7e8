"""Response models of the payout statements."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cart.schemas import EarningEntryOut
from livecommerce.api.common import StrictModel

__all__ = ["PayoutOut", "PayoutPage", "PayoutQuery", "PayoutStatementOut"]


class PayoutQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=1_000_000)


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
