"""The checkout's rules, without I/O: what to reserve, at what price, for what total.

:class:`~cart.checkout.Checkout` reads products, the pin and the buyer, and runs
the reservations, payment and order write; every decision in between is a plain
function here, tested without Redis or SQL (``tests/test_checkout_plan.py``):

* :func:`group_lines`: a cart's lines as product -> variant -> quantity (one hold
  per product, each product its own Redis slot);
* :func:`order_currency`: every variant exists and all products share a currency;
* :func:`reserve_steps`: the holds to make, in ascending product order, with the
  flash terms of the pinned product while its flash price runs;
* :func:`needs_loading` / :func:`reservation_error`: what a reservation's status means;
* :func:`unit_price`, :func:`order_items`, :func:`order_total`: the order's lines
  (flash price for units held at it, else the catalog's price rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cart.stock import Reservation, ReserveStatus
from cart.writer import ItemDraft
from livecommerce.catalog.cards import ProductCard
from livecommerce.creators.attribution import Attribution
from livecommerce.errors import (
    Conflict,
    LimitExceeded,
    LivecommerceError,
    NotFound,
    OutOfStock,
    ValidationFailed,
)
from livecommerce.pinstate import PinState

__all__ = [
    "Credit",
    "PurchaseLine",
    "ReserveStep",
    "group_lines",
    "is_held",
    "needs_loading",
    "credit_for",
    "order_currency",
    "order_items",
    "order_total",
    "reservation_error",
    "reserve_steps",
    "sold_out_error",
    "unit_price",
]

#: product id -> variant id -> quantity
Grouped = dict[int, dict[int, int]]


@dataclass(frozen=True)
class PurchaseLine:
    product_id: int
    variant_id: int
    quantity: int


@dataclass(frozen=True)
class ReserveStep:
    """One product's hold: its lines, and the pin's flash terms if they apply."""

    product_id: int
    lines: dict[int, int]
    flash_pin_id: int | None = None
    flash_cap: int | None = None


@dataclass(frozen=True)
class Credit:
    """Who earns the order's commission, at the rate in force when (and which link)."""

    creator_id: int
    attributed_at: datetime
    link_id: int | None = None


def credit_for(
    buyer_id: int,
    *,
    show_host_id: int | None,
    show_started_at: datetime | None,
    attribution: Attribution | None,
    now: datetime,
) -> Credit | None:
    """A purchase in a show credits its host, at the rate of the show's start (or now, if
    it has not started); else a valid share-link attribution credits the link's creator,
    at the rate of the click; a buyer never earns on their own purchase (self-referral)."""
    if show_host_id is not None:
        found = Credit(show_host_id, show_started_at or now)
    elif attribution is not None:
        found = Credit(attribution.creator_id, attribution.attributed_at, attribution.link_id)
    else:
        return None
    return None if found.creator_id == buyer_id else found


def group_lines(lines: Iterable[PurchaseLine]) -> Grouped:
    """Sum quantities per (product, variant); 409 ``cart_empty`` if there are none."""
    grouped: Grouped = {}
    for line in lines:
        variants = grouped.setdefault(line.product_id, {})
        variants[line.variant_id] = variants.get(line.variant_id, 0) + line.quantity
    if not grouped:
        raise Conflict("your cart is empty", code="cart_empty")
    return grouped


def order_currency(grouped: Grouped, products: Mapping[int, ProductCard]) -> str:
    """The order's currency. 404 if a variant does not exist; 422 if products differ."""
    for pid, variants in grouped.items():
        for vid in variants:
            products[pid].variant(vid)
    currencies = {card.currency for card in products.values()}
    if len(currencies) != 1:
        raise ValidationFailed("all items of one order must be in the same currency")
    return currencies.pop()


def reserve_steps(grouped: Grouped, pin: PinState | None, now_ms: int) -> list[ReserveStep]:
    """The holds to make, in ascending product order (as every checkout takes them)."""
    steps = []
    for pid in sorted(grouped):
        flash = pin is not None and pin.product_id == pid and pin.flash_active(now_ms)
        steps.append(
            ReserveStep(
                pid,
                grouped[pid],
                flash_pin_id=pin.pin_id if flash and pin else None,
                flash_cap=pin.quantity_cap if flash and pin else None,
            )
        )
    return steps


def needs_loading(r: Reservation) -> bool:
    """The product (or a variant added since) is not on sale in Redis yet: load it
    from SQL and reserve again, once."""
    return r.status in (ReserveStatus.NOT_LOADED, ReserveStatus.UNKNOWN_VARIANT)


def is_held(r: Reservation) -> bool:
    return r.status in (ReserveStatus.RESERVED, ReserveStatus.ALREADY_HELD)


def sold_out_error(product_id: int, variant_id: int, available: int) -> OutOfStock:
    return OutOfStock(
        f"only {available} left of variant {variant_id}",
        product_id=product_id,
        variant_id=variant_id,
        available=available,
    )


def reservation_error(product_id: int, r: Reservation, per_user_cap: int) -> LivecommerceError:
    """The answer for a reservation that did not hold (``is_held`` is false)."""
    if r.status == ReserveStatus.OUT_OF_STOCK:
        return sold_out_error(product_id, r.detail, r.available)
    if r.status == ReserveStatus.USER_CAP:
        return LimitExceeded(
            f"at most {per_user_cap} units of this product per buyer; you already have {r.detail}",
            product_id=product_id,
            limit=per_user_cap,
        )
    if r.status == ReserveStatus.UNKNOWN_VARIANT:
        return NotFound(f"variant {r.detail} of product {product_id} is not on sale")
    return OutOfStock(f"product {product_id} has no stock", product_id=product_id)


def unit_price(card: ProductCard, variant_id: int, r: Reservation, pin: PinState | None) -> int:
    """The flash price if this hold's units were reserved at it, else the catalog's."""
    if r.flash_units > 0 and pin is not None and pin.flash_price_minor is not None:
        return pin.flash_price_minor
    return card.variant(variant_id).price_minor


def order_items(
    grouped: Grouped,
    products: Mapping[int, ProductCard],
    held: Mapping[int, Reservation],
    pin: PinState | None,
    rates: Mapping[int, int] | None = None,
) -> list[ItemDraft]:
    """The order's lines, in ascending product order; ``rates``: the creator's commission
    per product (livecommerce.creators.rates), else the product's own rate."""
    return [
        ItemDraft(
            product_id=pid,
            variant_id=vid,
            quantity=qty,
            unit_price_minor=unit_price(products[pid], vid, held[pid], pin),
            commission_bps=(rates or {}).get(pid, products[pid].commission_bps),
        )
        for pid in sorted(grouped)
        for vid, qty in grouped[pid].items()
    ]


def order_total(items: Iterable[ItemDraft]) -> int:
    return sum(i.unit_price_minor * i.quantity for i in items)
