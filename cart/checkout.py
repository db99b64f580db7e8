"""Checkout: instant buy and cart checkout, in the order DESIGN section 5 asks for.

    reserve (Redis, per product) -> authorize (gateway) -> claim the holds, recording
    the payment on them -> capture -> write the order (group-committed SQL)
    -> confirm the holds -> reply "confirmed"

* The hold id is derived from (user, Idempotency-Key): a retry after a crash finds
  its own hold again, the gateway returns the same authorization for the same key,
  and SQL's unique constraints turn a duplicate order into "the existing order".
* A cart spanning several products reserves them one by one (each product is its
  own Redis slot) in ascending product order; if any fails, the holds already made
  are released before replying. No order is written unless every hold exists, so
  the buyer gets all lines or none; other buyers may briefly see a unit held that
  is then returned, which is the same as a payment failure.
* Any failure before the order is committed releases the holds at once (I4) and
  voids/refunds the payment (I3). If the process dies instead, the reaper finds the
  expired hold with no order in SQL, returns its units and refunds the payment the
  claim recorded on it: money is never kept without an order. After the commit, a
  failed confirm is harmless: the reaper finds the hold expired, sees its order in
  SQL, and confirms it.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cart import plan
from cart.events import StockEvents
from cart.lookups import Lookups
from cart.onsale import OnSale
from cart.orderfeed import OrderFeed
from cart.orders import get_order, order_out
from cart.payments import Authorization, GatewayDeclined, PaymentGateway, undo_payment
from cart.plan import PurchaseLine
from cart.schemas import OrderOut
from cart.stock import HoldPayment, Reservation, ReserveStatus, StockStore
from cart.writer import OrderDraft, OrderWriter, PaymentDraft
from livecommerce import keys
from livecommerce.creators.attribution import Attribution
from livecommerce.db.models import OrderStatus, utcnow
from livecommerce.errors import Conflict, OutOfStock, PaymentFailed, Unavailable
from livecommerce.pinstate import PinState, parse_pin
from livecommerce.redismux import RedisMux

__all__ = ["Checkout", "Purchase", "PurchaseLine", "hold_id_for"]

log = logging.getLogger("livecommerce.cart")


@dataclass(frozen=True)
class Purchase:
    user_id: int
    idempotency_key: str
    lines: list[PurchaseLine]
    session_id: int | None = None
    payment_method_id: int | None = None
    #: A valid share-link attribution the buyer carried (checked by the caller).
    attribution: Attribution | None = None


def hold_id_for(user_id: int, idempotency_key: str) -> str:
    return hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).hexdigest()[:32]


class Checkout:
    def __init__(
        self,
        *,
        mux: RedisMux,
        stock: StockStore,
        onsale: OnSale,
        lookups: Lookups,
        gateways: Mapping[str, PaymentGateway],
        writer: OrderWriter,
        events: StockEvents,
        feed: OrderFeed,
        hold_ttl_s: int,
        per_user_cap: int,
        clock: Callable[[], float] = time.time,
        sold_out_hint_s: float = 0.05,
    ) -> None:
        self.mux = mux
        self.stock = stock
        self.onsale = onsale
        self.lookups = lookups
        self.gateways = gateways
        self.writer = writer
        self.events = events
        self.feed = feed
        self.hold_ttl_ms = hold_ttl_s * 1000
        self.per_user_cap = per_user_cap
        self.clock = clock
        self.sold_out_hint_s = sold_out_hint_s
        self._sold_out: dict[tuple[int, int], float] = {}

    def sold_out(self, lines: list[PurchaseLine]) -> OutOfStock | None:
        """The out-of-stock answer if a line's variant was seen sold out (0 available)
        within the last ``sold_out_hint_s``: in a flash sale most taps come after the
        last unit went, and they get this true-a-moment-ago answer without Redis."""
        now = time.monotonic()
        for line in lines:
            until = self._sold_out.get((line.product_id, line.variant_id))
            if until is not None and until > now:
                return plan.sold_out_error(line.product_id, line.variant_id, 0)
        return None

    def gateway(self, name: str) -> PaymentGateway:
        found = self.gateways.get(name)
        if found is None:
            raise Conflict(f"payment gateway {name!r} is not available", code="gateway_unavailable")
        return found

    async def purchase(self, p: Purchase) -> OrderOut:
        """Run one checkout; returns the committed order or raises a LivecommerceError.

        The rules are :mod:`cart.plan`'s; this carries them out: read, reserve, pay,
        write, confirm (the module docstring gives the order and why)."""
        grouped = plan.group_lines(p.lines)
        known = self.sold_out(p.lines)
        if known is not None:
            raise known
        buyer_read = self.lookups.prefetch_buyer(p.user_id)
        products = {pid: await self.lookups.product(pid) for pid in sorted(grouped)}
        currency = plan.order_currency(grouped, products)
        pin: PinState | None = None
        now_ms = int(self.clock() * 1000)
        show = None
        if p.session_id is not None:
            show = await self.lookups.session(p.session_id)
            pin = parse_pin(await self.mux.execute("GET", keys.session_pin(p.session_id)))
        credit = plan.credit_for(
            p.user_id,
            show_host_id=show.host_id if show else None,
            show_started_at=show.started_at if show else None,
            attribution=p.attribution,
            now=datetime.fromtimestamp(now_ms / 1000, UTC),
        )
        rates = None
        if credit is not None:
            rates = await self.lookups.rates(
                credit.creator_id, sorted(grouped), credit.attributed_at
            )
        hold_id = hold_id_for(p.user_id, p.idempotency_key)
        held = await self._reserve_all(p, plan.reserve_steps(grouped, pin, now_ms), hold_id, now_ms)
        items = plan.order_items(grouped, products, held, pin, rates)
        total = plan.order_total(items)
        auth: Authorization | None = None
        gateway: PaymentGateway | None = None
        try:
            buyer = await self.lookups.buyer(p.user_id, p.payment_method_id, buyer_read)
            gateway = self.gateway(buyer.payment_gateway)
            auth = await _authorize(gateway, buyer.payment_token, total, currency, hold_id)
            await self._claim(held, hold_id, HoldPayment(gateway.name, auth.id, total))
            try:
                await gateway.capture(auth.id)
            except GatewayDeclined as exc:
                raise PaymentFailed(exc.message, code=exc.code) from exc
            draft = OrderDraft(
                id=str(uuid.uuid4()),
                user_id=p.user_id,
                session_id=p.session_id,
                creator_id=credit.creator_id if credit else None,
                link_id=credit.link_id if credit else None,
                status=OrderStatus.PAID.value,
                total_minor=total,
                currency=currency,
                idempotency_key=p.idempotency_key,
                hold_id=hold_id,
                shipping_address=buyer.shipping_address,
                payment=PaymentDraft(gateway.name, auth.id, "captured", total, currency),
                items=items,
            )
        except BaseException:
            await self._undo_payment(gateway, auth)
            await self._release(held, hold_id, p.session_id)
            raise
        return await self._commit(draft, held, hold_id, gateway, auth, p)

    async def _reserve_all(
        self, p: Purchase, steps: list[plan.ReserveStep], hold_id: str, now_ms: int
    ) -> dict[int, Reservation]:
        """One hold per product, in order; all or none (made ones are released on failure)."""
        held: dict[int, Reservation] = {}
        try:
            for step in steps:
                held[step.product_id] = await self._reserve(p, step, hold_id, now_ms)
        except BaseException:
            await self._release(held, hold_id, p.session_id)
            raise
        return held

    async def _reserve(
        self, p: Purchase, step: plan.ReserveStep, hold_id: str, now_ms: int
    ) -> Reservation:
        product_id = step.product_id
        for attempt in range(2):
            r = await self.stock.reserve(
                product_id,
                hold_id,
                step.lines,
                user_id=p.user_id,
                expires_at_ms=now_ms + self.hold_ttl_ms,
                per_user_cap=self.per_user_cap,
                flash_pin_id=step.flash_pin_id,
                flash_cap=step.flash_cap,
            )
            if plan.needs_loading(r) and not attempt:
                await self.onsale.put_on_sale([product_id], p.session_id)
                continue
            break
        if plan.is_held(r):
            self.events.touch(product_id, [p.session_id])
            return r
        if r.status == ReserveStatus.OUT_OF_STOCK and r.available == 0 and self.sold_out_hint_s > 0:
            self._sold_out[(product_id, r.detail)] = time.monotonic() + self.sold_out_hint_s
        raise plan.reservation_error(product_id, r, self.per_user_cap)

    async def _claim(
        self, held: Mapping[int, Reservation], hold_id: str, payment: HoldPayment
    ) -> None:
        """Claim every hold before capturing. The claim keeps the reaper off the hold
        while the order commits (its expiry moves to now + TTL), and records the
        payment on it, so that if this process dies before the commit, the reaper that
        returns the units also refunds the money (an order-less charge cannot outlive
        the hold). One product's hold carries it: one refund per purchase."""
        claim_until = int(self.clock() * 1000) + self.hold_ttl_ms
        record: HoldPayment | None = payment
        for pid in sorted(held):
            if not await self.stock.claim(pid, hold_id, claim_until, record):
                raise Conflict(
                    "your reservation expired before the payment completed; try again",
                    code="hold_expired",
                )
            record = None

    async def _commit(
        self,
        draft: OrderDraft,
        held: Mapping[int, Reservation],
        hold_id: str,
        gateway: PaymentGateway,
        auth: Authorization,
        p: Purchase,
    ) -> OrderOut:
        """Write the order (group commit), then confirm the holds."""
        try:
            outcome = await self.writer.write(draft)
        except Exception as exc:
            # The commit's fate is unknown only if SQL itself failed: leave the holds to
            # the reaper (it checks SQL before returning units) and refund nothing we
            # cannot prove unused.
            log.exception("writing order %s failed", draft.id)
            raise Unavailable("the order could not be saved; retry with the same key") from exc
        if outcome.existing:
            return await self._existing(outcome.order_id, held, hold_id, gateway, auth, p)
        for pid in held:
            await self.stock.confirm(pid, hold_id)
            self.events.touch(pid, [p.session_id])
        await self.feed.changed(p.user_id, draft.id, draft.status)
        return order_out(draft, draft.payment.status, utcnow())

    async def _release(
        self, held: Mapping[int, Reservation], hold_id: str, session_id: int | None
    ) -> None:
        for pid in held:
            # units come back: forget this product's sold-out hints
            for k in [k for k in self._sold_out if k[0] == pid]:
                self._sold_out.pop(k, None)
            try:
                await self.stock.release(pid, hold_id)
                self.events.touch(pid, [session_id])
            except Exception:  # noqa: BLE001 - the reaper returns it after the TTL (I4)
                log.exception("releasing hold %s of product %d failed", hold_id, pid)

    async def _undo_payment(
        self, gateway: PaymentGateway | None, auth: Authorization | None
    ) -> None:
        if gateway is not None and auth is not None:
            await undo_payment(gateway, auth.id, auth.amount_minor)

    async def _existing(
        self,
        order_id: str,
        held: Mapping[int, Reservation],
        hold_id: str,
        gateway: PaymentGateway | None,
        auth: Authorization | None,
        p: Purchase,
    ) -> OrderOut:
        """A retry whose order already exists (its idempotency record was lost)."""
        from livecommerce.auth.permissions import Principal

        async with self.lookups.db.sessions() as session:
            existing = await get_order(session, Principal(p.user_id, None), order_id)
            same_auth = await _authorization_used(session, order_id, auth)
        if not same_auth:
            await self._undo_payment(gateway, auth)
        for pid, r in held.items():
            if r.status == ReserveStatus.ALREADY_HELD:
                await self.stock.confirm(pid, hold_id)  # the hold is that order's
            else:
                await self.stock.release(pid, hold_id)  # a second hold made by this retry
            self.events.touch(pid, [p.session_id])
        return existing


async def _authorize(
    gateway: PaymentGateway, token: str, total: int, currency: str, hold_id: str
) -> Authorization:
    try:
        return await gateway.authorize(token, total, currency, idempotency_key=hold_id)
    except GatewayDeclined as exc:
        raise PaymentFailed(exc.message, code=exc.code) from exc


async def _authorization_used(session: Any, order_id: str, auth: Authorization | None) -> bool:
    from sqlalchemy import select

    from livecommerce.db.models import Payment

    if auth is None:
        return True
    found = await session.scalar(
        select(Payment.id).where(Payment.order_id == order_id, Payment.authorization_id == auth.id)
    )
    return found is not None
