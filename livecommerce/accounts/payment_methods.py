"""Saved payment methods: the one home of every SQL read and write of them.

A method is a gateway token (never card data) with its card's brand and last
four digits for display; at most one per user is the default, which checkout
uses unless the buyer names another. Callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.accounts.schemas import PaymentMethodOut
from livecommerce.db.engine import Database
from livecommerce.db.models import PaymentMethod, User
from livecommerce.errors import NotFound

__all__ = [
    "SavedMethod",
    "add_method",
    "add_test_cards",
    "list_methods",
    "method_out",
    "remove_method",
    "saved_methods_of",
    "set_default",
]


@dataclass(frozen=True)
class SavedMethod:
    """What checkout needs of a buyer's method, with the buyer's shipping address
    (``id`` None: the buyer has no method; the row still carries the address)."""

    id: int | None
    gateway: str
    token: str
    address: dict[str, Any] | None


def method_out(method: PaymentMethod) -> PaymentMethodOut:
    return PaymentMethodOut.model_validate(method, from_attributes=True)


async def list_methods(db: AsyncSession, user_id: int) -> list[PaymentMethodOut]:
    """The user's methods, oldest first."""
    rows = await db.scalars(
        select(PaymentMethod).where(PaymentMethod.user_id == user_id).order_by(PaymentMethod.id)
    )
    return [method_out(m) for m in rows]


async def add_method(
    db: AsyncSession,
    user_id: int,
    *,
    gateway: str,
    token: str,
    brand: str,
    last4: str,
    is_default: bool = True,
) -> PaymentMethod:
    """Save a method (flushed, so it has its id); a new default replaces the old one."""
    if is_default:
        await db.execute(
            update(PaymentMethod).where(PaymentMethod.user_id == user_id).values(is_default=False)
        )
    method = PaymentMethod(
        user_id=user_id,
        gateway=gateway,
        token=token,
        brand=brand,
        last4=last4,
        is_default=is_default,
    )
    db.add(method)
    await db.flush()
    return method


async def _own(db: AsyncSession, user_id: int, method_id: int) -> PaymentMethod:
    """The user's method ``method_id``; another user's is a 404 like a missing one (I6)."""
    method = await db.get(PaymentMethod, method_id)
    if method is None or method.user_id != user_id:
        raise NotFound(f"no payment method with id {method_id}")
    return method


async def set_default(
    db: AsyncSession, user_id: int, method_id: int, *, is_default: bool = True
) -> PaymentMethod:
    """Make the user's method the default (the others stop being it), or stop it being
    the default (then checkout uses the newest method)."""
    method = await _own(db, user_id, method_id)
    if is_default:
        await db.execute(
            update(PaymentMethod)
            .where(PaymentMethod.user_id == user_id, PaymentMethod.id != method_id)
            .values(is_default=False)
        )
    method.is_default = is_default
    await db.flush()
    return method


async def remove_method(db: AsyncSession, user_id: int, method_id: int) -> None:
    """Delete the user's method (its token only: past payments keep their own record).
    Removing the default makes the newest remaining method the default."""
    method = await _own(db, user_id, method_id)
    was_default = method.is_default
    await db.execute(delete(PaymentMethod).where(PaymentMethod.id == method_id))
    if was_default:
        newest = await db.scalar(
            select(PaymentMethod.id)
            .where(PaymentMethod.user_id == user_id)
            .order_by(PaymentMethod.id.desc())
            .limit(1)
        )
        if newest is not None:
            await db.execute(
                update(PaymentMethod).where(PaymentMethod.id == newest).values(is_default=True)
            )


async def add_test_cards(
    db: AsyncSession, user_ids: Sequence[int], *, card: str = "pm_card_visa"
) -> None:
    """Give each (new) user the test gateway's ``card`` as default, in one INSERT."""
    await db.execute(
        insert(PaymentMethod),
        [
            {
                "user_id": uid,
                "gateway": "test",
                "token": card,
                "brand": "visa",
                "last4": "4242",
                "is_default": True,
            }
            for uid in user_ids
        ],
    )


async def saved_methods_of(db: Database, user_ids: Sequence[int]) -> dict[int, list[SavedMethod]]:
    """Per existing user: their methods, default first then newest (one row with
    ``id`` None if they have none), each with their shipping address. One query."""
    found: dict[int, list[SavedMethod]] = {}
    # A Core connection, not an ORM session: plain columns need no identity map,
    # and the ORM's per-query set-up was ~1.6 ms of CPU per batch (py-spy).
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(
                User.id,
                User.shipping_address,
                PaymentMethod.id,
                PaymentMethod.gateway,
                PaymentMethod.token,
            )
            .outerjoin(PaymentMethod, PaymentMethod.user_id == User.id)
            .where(User.id.in_(list(user_ids)))
            .order_by(User.id, PaymentMethod.is_default.desc(), PaymentMethod.id.desc())
        )
        for uid, address, mid, gateway, token in rows:
            found.setdefault(int(uid), []).append(
                SavedMethod(mid, gateway or "", token or "", address)
            )
    return found
