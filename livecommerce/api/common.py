"""Models shared by many endpoints: strictness, pagination, money."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, Strict

__all__ = [
    "MAX_ID",
    "CurrencyCode",
    "Id",
    "IsoDatetime",
    "MinorUnits",
    "PageQuery",
    "StrictModel",
]

#: Ids are SQL BIGINTs: anything outside 1..2**63-1 cannot name a row.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")]
MinorUnits = Annotated[int, Field(ge=0, le=10**12, description="Amount in minor units (cents).")]


def _iso_text(value: Any) -> Any:
    # Strict types would refuse the ISO text JSON carries; lax ones would take a number
    # as a Unix time. A date-time is ISO 8601 text (or already a datetime), nothing else.
    if isinstance(value, str | datetime):
        return value
    raise ValueError("must be an ISO 8601 date-time string with a time zone")


#: A date-time with a time zone, given as ISO 8601 text.
IsoDatetime = Annotated[AwareDatetime, Strict(False), BeforeValidator(_iso_text)]


class StrictModel(BaseModel):
    """Request models refuse unknown fields, so typos are errors, not silent no-ops, and
    are strict about types: ``"1"`` and ``true`` are not the integer 1, ``"5"`` is not
    5 minutes. Query strings are text by nature: :mod:`livecommerce.api.routing`
    validates query models with ``strict=False``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class PageQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100, description="Items per page.")
    offset: int = Field(0, ge=0, le=1_000_000, description="Items to skip.")

    def next_offset(self, count: int) -> int | None:
        """The next page's ``offset`` after this page returned ``count`` items; None when
        it was the last (fewer than ``limit``)."""
        return self.offset + self.limit if count == self.limit else None
