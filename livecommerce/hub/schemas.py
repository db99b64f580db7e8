"""Pin request/response models, shared by the WebSocket ``pin`` request and HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from livecommerce.api.common import MAX_ID, IsoDatetime, MinorUnits, StrictModel
from livecommerce.hub.cards import PinnedView

__all__ = ["PinIn", "PinOut", "SessionState"]


class PinIn(StrictModel):
    product_id: int = Field(ge=1, le=MAX_ID, description="A product of the session's lineup.")
    flash_price_minor: MinorUnits | None = Field(
        None, description="Price while pinned (until the end time), minor units."
    )
    quantity_cap: int | None = Field(
        None, ge=1, le=1_000_000, description="Units that may sell at the flash price."
    )
    ends_at: IsoDatetime | None = Field(None, description="When the flash terms end.")
    duration_s: int | None = Field(
        None, ge=1, le=24 * 3600, description="Alternative to ends_at: seconds from now."
    )

    @model_validator(mode="after")
    def _one_end(self) -> PinIn:
        if self.ends_at is not None and self.duration_s is not None:
            raise ValueError("give ends_at or duration_s, not both")
        return self


class PinOut(BaseModel):
    id: int
    session_id: int
    product_id: int
    pinned_by: int
    flash_price_minor: int | None
    quantity_cap: int | None
    ends_at: datetime | None
    pinned_at: datetime
    unpinned_at: datetime | None
    offset_ms: int | None = Field(description="Milliseconds since the show went live.")
    pos_ms: int = Field(
        0, description="Stream position of the pin: ms since the show's stream started."
    )
    pdt_ms: int = Field(0, description="The pin's program date-time: unix ms.")
    unpinned_pos_ms: int | None = Field(
        None, description="Stream position of the unpin; null while pinned."
    )


class SessionState(BaseModel):
    """The snapshot a WebSocket ``join`` gets (see docs/protocol.md, ``snapshot``)."""

    type: str = "snapshot"
    session: int
    seq: int
    status: str
    pinned: PinnedView | None
    viewers: int
    chat: list[dict[str, Any]]
