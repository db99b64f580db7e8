"""When a buyer may ask for a refund: the rule, with no I/O.

A buyer asks; the brand that sold the order (or an admin) then refunds it with
``POST /api/orders/{id}/refund`` (:func:`cart.orders.refund_order`). Asking is allowed
for a ``paid`` or ``fulfilled`` order within ``RETURN_WINDOW_DAYS`` of its purchase, and
asking again is a no-op (the first request stands), so a retried tap is harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from livecommerce.db.models import OrderStatus
from livecommerce.errors import Conflict

__all__ = ["REQUESTABLE", "check_refund_request"]

#: Statuses whose buyer may ask for a refund.
REQUESTABLE = frozenset({OrderStatus.PAID.value, OrderStatus.FULFILLED.value})


def check_refund_request(
    *,
    status: str,
    purchased_at: datetime,
    requested_at: datetime | None,
    now: datetime,
    window_days: int,
) -> bool:
    """True: record the request now; False: it was already asked (answer the order as
    it is). Raises 409 ``not_refundable`` (wrong status) or ``return_window_closed``."""
    if requested_at is not None:
        return False
    if status not in REQUESTABLE:
        raise Conflict(
            f"an order that is {status} cannot be refunded; only paid or fulfilled orders can",
            code="not_refundable",
        )
    closes = purchased_at + timedelta(days=window_days)
    if now >= closes:
        raise Conflict(
            f"the return window of {window_days} days closed at {closes.isoformat()}",
            code="return_window_closed",
            closed_at=closes.isoformat(),
        )
    return True
