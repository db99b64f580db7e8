"""Creator handles: the public name in ``/@<handle>`` and share links.

A handle is 3–30 characters of lowercase ``a-z``, digits and ``_``, unique, and not a
reserved word (a path of the site or a word that would mislead: ``admin``, ``api``…).
Creators (role ``host``) get one at sign-up — the one they ask for, else one made from
their display name (:func:`suggest`) — and may change it with ``PATCH /api/me``.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.db.models import User
from livecommerce.errors import Conflict, ValidationFailed

__all__ = [
    "HANDLE_PATTERN",
    "RESERVED",
    "check_handle",
    "is_free",
    "suggest",
    "taken_error",
    "unique_handle",
]

#: What a handle looks like (also the ``pattern`` of the API's handle fields).
HANDLE_PATTERN = r"^[a-z0-9_]{3,30}$"
_HANDLE = re.compile(HANDLE_PATTERN)

#: Refused as handles: the site's own paths and names that would pass for the platform.
RESERVED = frozenset(
    {
        "account",
        "admin",
        "administrator",
        "api",
        "brand",
        "earnings",
        "help",
        "host",
        "livecommerce",
        "login",
        "logout",
        "marketplace",
        "me",
        "moderate",
        "null",
        "orders",
        "root",
        "security",
        "settings",
        "signup",
        "static",
        "studio",
        "support",
        "system",
        "undefined",
        "watch",
        "www",
    }
)


def check_handle(handle: str) -> str:
    """``handle`` if it is well-formed and not reserved; else 422 (``code``
    ``invalid_handle`` or ``reserved_handle``, ``loc`` the body's ``handle``)."""
    if not _HANDLE.match(handle):
        raise ValidationFailed(
            "handle: 3 to 30 characters of a-z, 0-9 and _",
            code="invalid_handle",
            errors=[{"loc": ["body", "handle"], "msg": "invalid handle", "type": "invalid_handle"}],
        )
    if handle in RESERVED:
        raise ValidationFailed(
            f"handle: {handle!r} is reserved",
            code="reserved_handle",
            errors=[
                {"loc": ["body", "handle"], "msg": "reserved handle", "type": "reserved_handle"}
            ],
        )
    return handle


# Letters NFKD does not take apart into an ASCII letter and a mark.
_LETTERS = str.maketrans(
    {"ı": "i", "İ": "I", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe",
     "Œ": "OE", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH"}
)  # fmt: skip


def suggest(display_name: str) -> str:
    """A well-formed handle made from a display name (``"Ayşe Yılmaz"`` → ``ayse_yilmaz``);
    ``creator`` if nothing usable is left. It may be taken: see :func:`unique_handle`."""
    folded = display_name.translate(_LETTERS)
    ascii_name = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")[:24].strip("_")
    if len(base) < 3 or base in RESERVED:
        base = f"creator_{base}".strip("_") if base else "creator"
    return base[:24]


async def is_free(db: AsyncSession, handle: str, *, user_id: int | None = None) -> bool:
    """No other user than ``user_id`` has ``handle``."""
    owner = await db.scalar(select(User.id).where(User.handle == handle))
    return owner is None or owner == user_id


async def unique_handle(db: AsyncSession, display_name: str) -> str:
    """A free handle from ``display_name``: :func:`suggest`, then with ``_2``, ``_3``… ."""
    base = suggest(display_name)
    taken = set(await db.scalars(select(User.handle).where(User.handle.like(f"{base}%"))))
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def taken_error(handle: str) -> Conflict:
    return Conflict(f"the handle {handle!r} is taken", code="handle_taken")
