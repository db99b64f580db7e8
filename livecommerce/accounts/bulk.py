"""Many buyers at once, straight into SQL: for benchmarks and load tests.

One precomputed password hash for all of them (argon2 per user would dominate the
run), a saved shipping address and a default test card each, so every one of them
can buy in one tap.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.accounts.payment_methods import add_test_cards
from livecommerce.db.models import User

__all__ = ["insert_buyers"]


async def insert_buyers(
    session: AsyncSession,
    emails: list[str],
    *,
    password_hash: str,
    address: dict[str, Any],
    card: str = "pm_card_visa",
) -> list[int]:
    """Insert one viewer per email with ``address`` and ``card`` (test gateway);
    returns their user ids. The caller owns the transaction."""
    await session.execute(
        insert(User),
        [
            {
                "email": e,
                "display_name": "Buyer",
                "password_hash": password_hash,
                "role": "viewer",
                "shipping_address": address,
            }
            for e in emails
        ],
    )
    ids = list(await session.scalars(select(User.id).where(User.email.in_(emails))))
    await add_test_cards(session, ids, card=card)
    return ids
