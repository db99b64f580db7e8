"""The checkout's rules (cart.plan) without Redis or SQL: quantities, flash terms, prices."""

from __future__ import annotations

import pytest

from cart import plan
from cart.plan import PurchaseLine, ReserveStep
from cart.stock import Reservation, ReserveStatus
from livecommerce.catalog.cards import ProductCard, VariantCard, unit_price
from livecommerce.errors import (
    Conflict,
    LimitExceeded,
    NotFound,
    OutOfStock,
    ValidationFailed,
)
from livecommerce.pinstate import PinState

HELD = Reservation(ReserveStatus.RESERVED, units_left=3)


def card(
    pid: int, *variants: tuple[int, int], currency: str = "EUR", bps: int = 500
) -> ProductCard:
    return ProductCard(
        id=pid,
        brand_id=1,
        name=f"p{pid}",
        description="",
        images=(),
        price_minor=1000,
        currency=currency,
        commission_bps=bps,
        is_active=True,
        variants={vid: VariantCard(vid, f"v{vid}", price) for vid, price in variants},
    )


def pin(
    product_id: int, *, price: int | None = 500, cap: int | None = 2, ends: int | None = None
) -> PinState:
    return PinState(
        pin_id=7,
        session_id=1,
        product_id=product_id,
        pinned_at_ms=0,
        flash_price_minor=price,
        quantity_cap=cap,
        ends_at_ms=ends,
    )


def test_the_price_rule_is_the_variant_price_else_the_product_price() -> None:
    assert unit_price(None, 1000) == 1000
    assert unit_price(750, 1000) == 750
    assert unit_price(0, 1000) == 0  # a free variant is a price, not a missing one


def test_lines_are_summed_per_product_and_variant() -> None:
    lines = [PurchaseLine(2, 20, 1), PurchaseLine(1, 10, 2), PurchaseLine(2, 20, 3)]
    assert plan.group_lines(lines) == {2: {20: 4}, 1: {10: 2}}
    with pytest.raises(Conflict) as err:
        plan.group_lines([])
    assert err.value.code == "cart_empty"


def test_an_order_has_one_currency_and_only_existing_variants() -> None:
    products = {1: card(1, (10, 900)), 2: card(2, (20, 100))}
    assert plan.order_currency({1: {10: 1}, 2: {20: 1}}, products) == "EUR"
    with pytest.raises(NotFound):
        plan.order_currency({1: {11: 1}}, products)
    with pytest.raises(ValidationFailed):
        plan.order_currency(
            {1: {10: 1}, 3: {30: 1}}, {**products, 3: card(3, (30, 1), currency="USD")}
        )


def test_holds_go_in_product_order_and_only_the_pinned_product_gets_flash_terms() -> None:
    steps = plan.reserve_steps({3: {30: 1}, 1: {10: 2}}, pin(3), now_ms=1)
    assert steps == [
        ReserveStep(1, {10: 2}),
        ReserveStep(3, {30: 1}, flash_pin_id=7, flash_cap=2),
    ]
    # flash over (ends_at passed) or no flash price: the normal terms
    assert plan.reserve_steps({3: {30: 1}}, pin(3, ends=5), now_ms=5) == [ReserveStep(3, {30: 1})]
    assert plan.reserve_steps({3: {30: 1}}, pin(3, price=None), now_ms=1) == [
        ReserveStep(3, {30: 1})
    ]
    assert plan.reserve_steps({3: {30: 1}}, None, now_ms=1) == [ReserveStep(3, {30: 1})]


def test_units_held_at_the_flash_price_are_sold_at_it() -> None:
    products = {1: card(1, (10, 900), (11, 950)), 2: card(2, (20, 100), bps=0)}
    flash = Reservation(ReserveStatus.RESERVED, flash_units=3)
    items = plan.order_items({2: {20: 1}, 1: {10: 2, 11: 1}}, products, {1: flash, 2: HELD}, pin(1))
    assert [
        (i.product_id, i.variant_id, i.quantity, i.unit_price_minor, i.commission_bps)
        for i in items
    ] == [
        (1, 10, 2, 500, 500),
        (1, 11, 1, 500, 500),
        (2, 20, 1, 100, 0),
    ]
    assert plan.order_total(items) == 2 * 500 + 500 + 100
    # over the flash cap (flash_units 0): the catalog's price
    assert plan.unit_price(products[1], 10, HELD, pin(1)) == 900


def test_what_a_reservation_status_means() -> None:
    assert plan.is_held(HELD) and plan.is_held(Reservation(ReserveStatus.ALREADY_HELD))
    assert plan.needs_loading(Reservation(ReserveStatus.NOT_LOADED))
    assert plan.needs_loading(Reservation(ReserveStatus.UNKNOWN_VARIANT, detail=11))
    assert not plan.needs_loading(HELD)

    out = plan.reservation_error(
        1, Reservation(ReserveStatus.OUT_OF_STOCK, detail=10, available=2), 5
    )
    assert isinstance(out, OutOfStock) and "only 2 left of variant 10" in str(out)
    cap = plan.reservation_error(1, Reservation(ReserveStatus.USER_CAP, detail=4), 5)
    assert (
        isinstance(cap, LimitExceeded)
        and "at most 5 units" in str(cap)
        and "you already have 4" in str(cap)
    )
    unknown = plan.reservation_error(1, Reservation(ReserveStatus.UNKNOWN_VARIANT, detail=11), 5)
    assert isinstance(unknown, NotFound)
    gone = plan.reservation_error(1, Reservation(ReserveStatus.NOT_LOADED), 5)
    assert isinstance(gone, OutOfStock) and "has no stock" in str(gone)
