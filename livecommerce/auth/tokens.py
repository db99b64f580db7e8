"""Signed, expiring bearer tokens.

A token is ``base64url(payload) "." base64url(HMAC-SHA256(secret, payload))``
where the payload is JSON ``{"sub": user_id, "role": role, "exp": unix_seconds,
"brand": brand_id_or_null}``.
The role is carried for speed (the hub checks it without SQL); anything that
grants rights on a session is still checked against SQL (see permissions).

:meth:`TokenSigner.seal` / :meth:`TokenSigner.unseal` sign other claims the same way
for one ``purpose`` (e.g. an affiliate click's attribution) with a key derived for that
purpose: such a token is never a valid bearer token, nor one of another purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from livecommerce import encoding
from livecommerce.errors import Unauthorized

__all__ = ["TokenClaims", "TokenSigner"]


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    role: str
    expires_at: int
    brand_id: int | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret_key: str, *, ttl_s: int) -> None:
        self._key = hashlib.sha256(b"livecommerce-token:" + secret_key.encode()).digest()
        self.ttl_s = ttl_s

    def issue(
        self, user_id: int, role: str, *, brand_id: int | None = None, now: float | None = None
    ) -> str:
        expires = int((time.time() if now is None else now) + self.ttl_s)
        claims = {"sub": user_id, "role": role, "exp": expires, "brand": brand_id}
        payload = _b64(encoding.dumps(claims))
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str, *, now: float | None = None) -> TokenClaims:
        """Return the claims of a valid token; raise :class:`Unauthorized` otherwise."""
        payload, dot, signature = token.partition(".")
        if not dot or not hmac.compare_digest(signature, self._sign(payload)):
            raise Unauthorized("invalid token")
        try:
            claims = encoding.loads(_unb64(payload))
            user_id, role, expires = int(claims["sub"]), str(claims["role"]), int(claims["exp"])
            brand = claims.get("brand")
            brand_id = int(brand) if brand is not None else None
        except (ValueError, KeyError, TypeError):
            raise Unauthorized("invalid token") from None
        if expires < (time.time() if now is None else now):
            raise Unauthorized("token expired", code="token_expired")
        return TokenClaims(user_id=user_id, role=role, expires_at=expires, brand_id=brand_id)

    def seal(self, purpose: str, claims: dict[str, Any], *, expires_at: int) -> str:
        """A signed token carrying ``claims`` (JSON-able) until ``expires_at`` (unix s)."""
        payload = _b64(encoding.dumps({**claims, "exp": expires_at}))
        return f"{payload}.{self._sign(payload, self._purpose_key(purpose))}"

    def unseal(self, purpose: str, token: str, *, now: float) -> dict[str, Any]:
        """The claims of a valid, unexpired token sealed for ``purpose``; raise
        :class:`Unauthorized` for anything else (forged, tampered, expired, malformed)."""
        payload, dot, signature = token.partition(".")
        if not dot or not hmac.compare_digest(
            signature, self._sign(payload, self._purpose_key(purpose))
        ):
            raise Unauthorized("invalid token")
        try:
            claims = encoding.loads(_unb64(payload))
            expires = int(claims["exp"])
        except (ValueError, KeyError, TypeError):
            raise Unauthorized("invalid token") from None
        if not isinstance(claims, dict):
            raise Unauthorized("invalid token")
        if expires < now:
            raise Unauthorized("token expired", code="token_expired")
        return claims

    def _purpose_key(self, purpose: str) -> bytes:
        return hmac.new(self._key, b"purpose:" + purpose.encode(), hashlib.sha256).digest()

    def _sign(self, payload: str, key: bytes | None = None) -> str:
        mac = hmac.new(key or self._key, payload.encode(), hashlib.sha256)
        return _b64(mac.digest()[:24])
