"""Authentication (passwords, bearer tokens) and authorization (one place for role checks)."""

from livecommerce.auth.passwords import hash_password, verify_password
from livecommerce.auth.permissions import Principal, SessionRights
from livecommerce.auth.tokens import TokenSigner

__all__ = ["Principal", "SessionRights", "TokenSigner", "hash_password", "verify_password"]
