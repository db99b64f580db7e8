"""The signed attribution a share-link click gives its visitor.

``GET /l/<code>`` answers with the cookie ``lc_attr`` (HttpOnly, SameSite=Lax, for
``ATTRIBUTION_WINDOW_DAYS``), whose value is a token signed by the app's
:class:`~livecommerce.auth.tokens.TokenSigner` (purpose ``attribution``) carrying the
link's creator id ``c``, link id ``l``, the click's time ``t`` and its expiry ``exp``
(unix seconds). Each click replaces the cookie: the last click wins.

Checkout (``POST /api/buy``, ``POST /api/checkout``) reads the cookie and the body field
``attribution`` (the same token, for clients that keep no cookies); of the valid ones it
takes the latest click. Anything forged, tampered with, expired or malformed is ignored
silently: a buyer never gets an error for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from livecommerce.auth.tokens import TokenSigner
from livecommerce.errors import Unauthorized

__all__ = ["COOKIE", "PURPOSE", "Attribution", "issue", "latest", "read"]

#: The cookie a click sets (its value is the token).
COOKIE = "lc_attr"
PURPOSE = "attribution"
#: A token longer than this is not read at all.
MAX_TOKEN_CHARS = 512


@dataclass(frozen=True)
class Attribution:
    creator_id: int
    link_id: int
    #: Unix seconds of the click: the moment the creator's rate is taken at.
    clicked_at: float
    expires_at: int

    @property
    def attributed_at(self) -> datetime:
        return datetime.fromtimestamp(self.clicked_at, UTC)


def issue(
    tokens: TokenSigner, *, creator_id: int, link_id: int, clicked_at: float, window_s: int
) -> str:
    """The token of one click, valid for ``window_s`` seconds after it."""
    return tokens.seal(
        PURPOSE,
        {"c": creator_id, "l": link_id, "t": round(clicked_at, 3)},
        expires_at=int(clicked_at + window_s),
    )


def read(tokens: TokenSigner, token: str | None, *, now: float) -> Attribution | None:
    """The attribution ``token`` carries, or None if it is absent or not valid now."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        claims = tokens.unseal(PURPOSE, token, now=now)
        found = Attribution(
            creator_id=int(claims["c"]),
            link_id=int(claims["l"]),
            clicked_at=float(claims["t"]),
            expires_at=int(claims["exp"]),
        )
    except (Unauthorized, KeyError, TypeError, ValueError):
        return None
    if found.creator_id < 1 or found.link_id < 1 or found.clicked_at > now + 60:
        return None
    return found


def latest(
    tokens: TokenSigner, candidates: Iterable[str | None], *, now: float
) -> Attribution | None:
    """Of the valid attributions among ``candidates``, the latest click's."""
    valid = [a for a in (read(tokens, c, now=now) for c in candidates) if a is not None]
    return max(valid, key=lambda a: a.clicked_at, default=None)
