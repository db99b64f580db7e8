"""What the replay API answers (docs/replay.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from livecommerce.api.common import MAX_ID, StrictModel

__all__ = ["ChapterOut", "ClipOut", "ReplayOut", "TapIn"]


class TapIn(StrictModel):
    product_id: int = Field(
        ge=1, le=MAX_ID, description="The product whose card was tapped: the pinned one."
    )


class ChapterOut(BaseModel):
    product_id: int
    name: str
    image: str | None
    start_ms: int = Field(description="Playhead time in the replay where the pin began.")
    end_ms: int = Field(description="Playhead time where it ended (unpin or end of show).")


class ClipOut(BaseModel):
    id: str
    product_id: int
    name: str
    image: str | None
    buys: int = Field(description="Units bought in the moment the clip was made from.")
    taps: int = Field(description="Taps on the product's card (Buy, Add to cart) in it.")
    start_ms: int = Field(description="Where the clip starts in the replay.")
    end_ms: int
    playlist_url: str = Field(description="The clip's own VOD playlist (the replay's segments).")


class ReplayOut(BaseModel):
    session_id: int
    title: str
    host_id: int
    playlist_url: str = Field(description="The replay's VOD playlist (EXT-X-ENDLIST).")
    duration_ms: int
    stream_start_ms: int = Field(description="Unix ms of the replay's time 0.")
    chapters: list[ChapterOut]
    clips: list[ClipOut]
    products: list[dict[str, Any]] = Field(
        description="The cards of the products in chapters and clips (as in `pinned` events)."
    )
