"""Who may read which brand's console: the brand's own users, and admins (naming it)."""

from __future__ import annotations

from livecommerce.auth.permissions import Principal
from livecommerce.db.models import Role
from livecommerce.errors import BadRequest, Forbidden

__all__ = ["console_brand"]


def console_brand(principal: Principal, asked: int | None) -> int:
    """The brand whose orders and sales ``principal`` reads: a brand user's own brand
    (asking for another one is 403), or for an admin the brand named by ``asked``.
    Anonymous callers get 401, other roles 403."""
    principal.require_user()
    if principal.is_admin:
        if asked is None:
            raise BadRequest("an admin names the brand to read: ?brand_id=<id>")
        return asked
    if principal.role != Role.BRAND or principal.brand_id is None:
        raise Forbidden("the brand console is for the users of a brand", code="not_a_brand")
    if asked is not None and asked != principal.brand_id:
        raise Forbidden("you can only read your own brand's orders and sales")
    return principal.brand_id
