"""HTTP adapters: a creator's earnings and payout statements (thin: see cart/earnings.py,
cart/payouts/statements.py)."""

from __future__ import annotations

from collections.abc import Sequence

from cart.component import CartComponent
from cart.earnings import earnings
from cart.payouts import statements
from cart.payouts.schemas import PayoutPage, PayoutStatementOut
from cart.schemas import EarningsOut
from livecommerce.api.common import PageQuery
from livecommerce.api.routing import Api, Call
from livecommerce.creators.links import Links

__all__ = ["api"]

api: Api[CartComponent] = Api(tags=["earnings and payouts"])


@api.route(
    "GET",
    "/api/me/earnings",
    summary="Your commission earnings as a creator: pending, payable, paid and reversed per "
    "currency, per show and per share link (with its clicks), and the latest entries",
    response=EarningsOut,
    auth="required",
)
async def my_earnings(cart: CartComponent, call: Call) -> EarningsOut:
    user_id = call.principal.require_user()
    links = Links(cart.services.db, cart.services.mux)

    async def link_stats(codes: Sequence[str]) -> dict[str, tuple[int, int]]:
        found = await links.stats(codes)
        return {code: (s.clicks, s.unique_visitors) for code, s in found.items()}

    async with cart.services.db.sessions() as db:
        return await earnings(db, user_id, now=cart.services.clock.now(), link_stats=link_stats)


@api.route(
    "GET",
    "/api/me/payouts",
    summary="Your payouts as a creator, newest first",
    query=PageQuery,
    response=PayoutPage,
    auth="required",
)
async def my_payouts(cart: CartComponent, call: Call) -> PayoutPage:
    user_id = call.principal.require_user()
    q = call.query_as(PageQuery)
    async with cart.services.db.sessions() as db:
        items = await statements.list_payouts(db, user_id, limit=q.limit, offset=q.offset)
    return PayoutPage(items=items, next_offset=q.next_offset(len(items)))


@api.route(
    "GET",
    "/api/me/payouts/{payout_id}",
    summary="One of your payouts with the ledger entries it paid (its statement)",
    response=PayoutStatementOut,
    auth="required",
    errors=[404],
)
async def my_payout(cart: CartComponent, call: Call) -> PayoutStatementOut:
    async with cart.services.db.sessions() as db:
        return await statements.statement(
            db, call.principal, call.param("payout_id"), now=cart.services.clock.now()
        )
