"""Account request/response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from livecommerce.accounts.handles import HANDLE_PATTERN
from livecommerce.api.common import StrictModel

__all__ = [
    "Address",
    "LoginIn",
    "MePatch",
    "PaymentMethodOut",
    "PaymentMethodPatch",
    "SignupIn",
    "TokenOut",
    "UserOut",
]

Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Address(StrictModel):
    name: str = Field(min_length=1, max_length=120)
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field("", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2.")


class SignupIn(StrictModel):
    email: Email
    password: str = Field(min_length=8, max_length=200)
    display_name: str = Field(min_length=1, max_length=80)
    #: Self-service sign-up may choose viewer or host; other roles come from an admin.
    role: str = Field("viewer", pattern=r"^(viewer|host)$")
    handle: str | None = Field(
        None,
        pattern=HANDLE_PATTERN,
        description="Your public name in /@<handle> (a-z, 0-9, _; 3-30); a host without "
        "one gets one made from the display name.",
    )


class MePatch(StrictModel):
    """``PATCH /api/me``: only the fields sent change."""

    display_name: str | None = Field(None, min_length=1, max_length=80)
    handle: str | None = Field(None, pattern=HANDLE_PATTERN, description="a-z, 0-9, _; 3-30.")


class LoginIn(StrictModel):
    email: Email
    password: str = Field(min_length=1, max_length=200)


class PaymentMethodOut(BaseModel):
    id: int
    gateway: str
    brand: str
    last4: str
    is_default: bool


class PaymentMethodPatch(StrictModel):
    is_default: bool = Field(
        description="true: this becomes your default (checkout uses it); false: no default."
    )


class UserOut(BaseModel):
    id: int
    email: str
    display_name: str
    role: str
    brand_id: int | None
    shipping_address: Address | None
    created_at: datetime
    #: The public name in ``/@<handle>`` (creators get one at sign-up).
    handle: str | None = None


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut
