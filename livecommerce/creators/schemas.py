"""Request/response models of the affiliate link endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from livecommerce.api.common import Id, StrictModel

__all__ = ["LinkIn", "LinkOut"]


class LinkIn(StrictModel):
    target: Literal["product", "show", "showcase"] = Field(
        description="What the link opens: a product page, a show, or your showcase (/@handle)."
    )
    id: Id | None = Field(
        None,
        description="The product or show id (required for those); for a showcase, your own "
        "user id or nothing.",
    )


class LinkOut(BaseModel):
    id: int
    code: str
    #: The path to share: ``/l/<code>`` (prefix it with the site's origin).
    url: str
    target: str
    product_id: int | None
    session_id: int | None
    created_at: datetime
    #: Every click counted (Redis), exact.
    clicks: int = 0
    #: Distinct visitors (HyperLogLog: within ~1 % of the exact count).
    unique_visitors: int = 0
