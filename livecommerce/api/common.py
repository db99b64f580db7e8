"""Models shared by many endpoints: strictness, pagination, money."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_ID", "CurrencyCode", "Id", "MinorUnits", "PageQuery", "StrictModel"]

#: Ids are SQL BIGINTs: anything outside 1..2**63-1 cannot name a row.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")]
MinorUnits = Annotated[int, Field(ge=0, le=10**12, description="Amount in minor units (cents).")]


class StrictModel(BaseModel):
    """Request models refuse unknown fields, so typos are errors, not silent no-ops."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PageQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100, description="Items per page.")
    offset: int = Field(0, ge=0, le=1_000_000, description="Items to skip.")
