"""The dashboard's numbers: the WebSocket ``dashboard`` frame and the HTTP JSON are one model."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = [
    "DashboardOut",
    "OverviewItem",
    "OverviewOut",
    "PinnedNumbers",
    "ProductNumbers",
    "SessionSummaryOut",
    "StreamNumbers",
    "ViewerNumbers",
]


class ViewerNumbers(BaseModel):
    now: int = Field(description="Viewers connected now (all hub processes).")
    peak: int
    unique: int = Field(description="Distinct viewers ever joined (HyperLogLog, ±1%).")


class ProductNumbers(BaseModel):
    product_id: int
    name: str
    units_sold: int
    gmv_minor: int
    units_left: int | None = Field(description="Units available now; null if not on sale.")


class PinnedNumbers(BaseModel):
    pin_id: int
    product_id: int
    name: str
    flash_price_minor: int | None
    pinned_at_ms: int
    pinned_for_s: float


class StreamNumbers(BaseModel):
    publishing: bool
    codec: str | None
    bitrate_bps: int
    fps: float
    loss_fraction: float
    viewers_on_media: int
    updated_ms: int


class DashboardOut(BaseModel):
    """A session's live numbers at ``at_ms``. Rates are over the last 60 s (or since
    sampling began, if that is later: ``rate_window_s``)."""

    type: str = "dashboard"
    session: int
    status: str
    at_ms: int
    viewers: ViewerNumbers
    chat_per_min: float
    reactions_per_min: float
    orders_per_min: float
    rate_window_s: float
    chat_messages: int
    reactions: int
    orders: int
    buyers: int
    units_sold: int
    gmv_minor: int
    currency: str | None
    conversion: float = Field(description="Buyers / unique viewers (0..1).")
    products: list[ProductNumbers]
    pinned: PinnedNumbers | None
    stream: StreamNumbers | None


class OverviewItem(BaseModel):
    session: int
    title: str
    host_id: int
    viewers_now: int
    viewers_peak: int
    unique_viewers: int
    orders: int
    units_sold: int
    gmv_minor: int
    currency: str | None
    conversion: float
    pinned_product_id: int | None
    publishing: bool


class OverviewOut(BaseModel):
    items: list[OverviewItem]


class SessionSummaryOut(BaseModel):
    """A session's headline numbers, for its host's list of shows (any status)."""

    session: int
    status: str
    orders: int = Field(description="Paid or fulfilled orders from this session.")
    buyers: int
    units_sold: int
    gmv_minor: int
    currency: str | None
    viewers_peak: int | None = Field(
        description="Most viewers at once; null if not known (never live, or Redis lost it)."
    )
