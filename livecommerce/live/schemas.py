"""Live session request/response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from livecommerce.api.common import Id, IsoDatetime, PageQuery, StrictModel
from livecommerce.catalog.schemas import ProductOut

__all__ = [
    "LineupIn",
    "ModeratorIn",
    "ModeratorOut",
    "ProductSessionsOut",
    "SessionBrief",
    "SessionIn",
    "SessionOut",
    "SessionPage",
    "SessionPatch",
    "SessionQuery",
]


class SessionIn(StrictModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    scheduled_at: IsoDatetime | None = None
    product_ids: list[Id] = Field(default_factory=list, max_length=200)


class SessionPatch(StrictModel):
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    scheduled_at: IsoDatetime | None = None


class LineupIn(StrictModel):
    product_ids: list[Id] = Field(max_length=200, description="The whole lineup, in order.")


class ModeratorIn(StrictModel):
    user_id: Id


class ModeratorOut(BaseModel):
    user_id: int
    display_name: str


class SessionOut(BaseModel):
    id: int
    host_id: int
    host_name: str
    title: str
    description: str
    status: str
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    lineup: list[ProductOut]


class SessionBrief(BaseModel):
    """A session without its lineup: where a product is featured."""

    id: int
    title: str
    status: str
    host_name: str
    scheduled_at: datetime | None
    started_at: datetime | None


class ProductSessionsOut(BaseModel):
    product_id: int
    live: list[SessionBrief] = Field(description="Live now, featuring the product; at most 20.")
    upcoming: list[SessionBrief] = Field(
        description="Scheduled, soonest first (unscheduled last), at most 20."
    )


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_offset: int | None


class SessionQuery(PageQuery):
    status: str | None = Field(
        None,
        pattern=r"^(scheduled|live|ended|upcoming)$",
        description="Filter; 'upcoming' means live or scheduled (the default).",
    )
    host_id: Id | None = None
