"""Stock on sale in Redis: reserve, claim, confirm, release (DESIGN section 5, I1 and I4).

Each operation is one Lua script over the keys of ONE product (hash tag ``{p:<id>}``,
see :mod:`livecommerce.keys`), so it is atomic and cluster-safe. Per variant, Redis
keeps ``available`` (``stock`` hash) and ``total``/``held``/``sold`` (``counts`` hash);
every script keeps ``available + held + sold == total``.

A hold's life: :meth:`StockStore.reserve` creates it with an expiry;
:meth:`StockStore.claim` moves the expiry forward just before the order is written to
SQL; :meth:`StockStore.confirm` drops it after the commit (units stay sold); or
:meth:`StockStore.release` returns its units (payment failed, or the reaper found it
expired with no order in SQL).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis

from livecommerce import encoding, keys
from livecommerce.errors import Conflict
from livecommerce.lua import script_file
from livecommerce.redismux import RedisMux

__all__ = [
    "HoldPayment",
    "ReserveStatus",
    "Reservation",
    "StockStore",
    "VariantCounts",
]

_RESERVE = script_file("cart", "reserve")
_CONFIRM = script_file("cart", "confirm")
_RELEASE = script_file("cart", "release")
_CLAIM = script_file("cart", "claim")
_UNSELL = script_file("cart", "unsell")
_ADJUST = script_file("cart", "adjust")
_LOAD = script_file("cart", "load")
_FIX = script_file("cart", "fix")


class ReserveStatus(enum.IntEnum):
    RESERVED = 1
    ALREADY_HELD = 2
    OUT_OF_STOCK = 0
    NOT_LOADED = -1
    USER_CAP = -2
    UNKNOWN_VARIANT = -3


@dataclass(frozen=True)
class Reservation:
    status: ReserveStatus
    #: Units of this hold sold at the flash price (all of them or 0).
    flash_units: int = 0
    #: Units left of the product after the reservation (RESERVED only).
    units_left: int = 0
    #: OUT_OF_STOCK / UNKNOWN_VARIANT: the variant; USER_CAP: units already held or bought.
    detail: int = 0
    available: int = 0


@dataclass(frozen=True)
class HoldPayment:
    """The payment authorized for a hold: gateway, authorization id, amount."""

    gateway: str
    authorization_id: str
    amount_minor: int


@dataclass(frozen=True)
class VariantCounts:
    available: int
    total: int
    held: int
    sold: int


def _product_keys(product_id: int) -> dict[str, str]:
    return {
        "stock": keys.product_stock(product_id),
        "counts": keys.product_counts(product_id),
        "holds": keys.product_holds(product_id),
        "holdinfo": keys.product_holdinfo(product_id),
        "buyers": keys.product_buyers(product_id),
    }


class StockStore:
    """The stock scripts (run through ``mux``, the checkout's hot path) and stock
    reads (``redis``). Build one per process; ``mux`` defaults to one of its own."""

    def __init__(self, redis: Redis, mux: RedisMux | None = None) -> None:
        self.redis = redis
        self.mux = mux or RedisMux.for_client(redis)

    async def reserve(
        self,
        product_id: int,
        hold_id: str,
        lines: Mapping[int, int],
        *,
        user_id: int,
        expires_at_ms: int,
        per_user_cap: int = 0,
        flash_pin_id: int | None = None,
        flash_cap: int | None = None,
    ) -> Reservation:
        """Hold ``lines`` (variant id -> quantity, each > 0) of one product, all or none.

        ``flash_pin_id`` (when the product is pinned with an active flash price) makes
        the hold count against that pin's ``flash_cap``: if the whole quantity still
        fits, ``flash_units`` is the quantity, else 0 (normal price). The caller must
        check :attr:`Reservation.status` and release the hold if it does not go on.
        """
        k = _product_keys(product_id)
        argv: list[Any] = [
            hold_id,
            expires_at_ms,
            user_id,
            per_user_cap,
            flash_pin_id or 0,
            -1 if flash_cap is None else flash_cap,
        ]
        for variant_id, quantity in lines.items():
            argv += [variant_id, quantity]
        raw = await _RESERVE.run(
            self.mux, [k["stock"], k["counts"], k["holds"], k["holdinfo"], k["buyers"]], argv
        )
        status = ReserveStatus(int(raw[0]))
        if status in (ReserveStatus.RESERVED, ReserveStatus.ALREADY_HELD):
            return Reservation(status, flash_units=int(raw[1]), units_left=int(raw[2]))
        if status == ReserveStatus.OUT_OF_STOCK:
            return Reservation(status, detail=int(raw[1]), available=int(raw[2]))
        if status in (ReserveStatus.USER_CAP, ReserveStatus.UNKNOWN_VARIANT):
            return Reservation(status, detail=int(raw[1]))
        return Reservation(status)

    async def claim(
        self,
        product_id: int,
        hold_id: str,
        expires_at_ms: int,
        payment: HoldPayment | None = None,
    ) -> bool:
        """Extend the hold to ``expires_at_ms`` before writing its order, recording the
        ``payment`` authorized for it (see :meth:`payment_of`); False if it is gone."""
        k = _product_keys(product_id)
        record = "" if payment is None else encoding.dumps(asdict(payment)).decode()
        return bool(
            await _CLAIM.run(
                self.mux, [k["holds"], k["holdinfo"]], [hold_id, expires_at_ms, record]
            )
        )

    async def payment_of(self, product_id: int, hold_id: str) -> HoldPayment | None:
        """The payment a checkout recorded on this hold when it claimed it (None: none,
        or no such hold). The reaper undoes it when it returns a hold no order used."""
        raw = await self.redis.hget(keys.product_holdinfo(product_id), hold_id)
        if raw is None:
            return None
        found = encoding.loads(raw).get("a")
        return None if not found else HoldPayment(**found)

    async def confirm(self, product_id: int, hold_id: str) -> bool:
        """Call only after the hold's order is committed in SQL. False if no such hold."""
        k = _product_keys(product_id)
        return bool(
            await _CONFIRM.run(self.mux, [k["counts"], k["holds"], k["holdinfo"]], [hold_id])
        )

    async def release(
        self, product_id: int, hold_id: str, *, if_expired_by_ms: int | None = None
    ) -> int:
        """Return the hold's units. With ``if_expired_by_ms``, only if its expiry is not
        later than that (the reaper's guard against a checkout that just claimed it).
        Returns 1 released, 0 no such hold, -1 skipped (claimed meanwhile)."""
        k = _product_keys(product_id)
        guard = "" if if_expired_by_ms is None else str(if_expired_by_ms)
        return int(
            await _RELEASE.run(
                self.mux,
                [k["stock"], k["counts"], k["holds"], k["holdinfo"], k["buyers"]],
                [hold_id, guard],
            )
        )

    async def unsell(self, product_id: int, lines: Mapping[int, int]) -> bool:
        """Return sold units to stock (after a refund is committed in SQL)."""
        k = _product_keys(product_id)
        argv: list[Any] = []
        for variant_id, quantity in lines.items():
            argv += [variant_id, quantity]
        return bool(await _UNSELL.run(self.mux, [k["stock"], k["counts"]], argv))

    async def adjust_total(self, product_id: int, variant_id: int, new_total: int) -> bool:
        """Apply a new ``stock_total`` to the Redis counters (before its SQL commit).

        Raises :class:`Conflict` if ``new_total`` is below the units sold plus held.
        Returns False if the variant is not on sale in Redis (nothing to adjust)."""
        k = _product_keys(product_id)
        raw = await _ADJUST.run(self.mux, [k["stock"], k["counts"]], [variant_id, new_total])
        if int(raw[0]) == -1:
            raise Conflict(
                f"stock_total {new_total} is below the {int(raw[1])} units already sold or held",
                code="stock_below_committed",
            )
        return int(raw[0]) == 1

    async def load(self, product_id: int, variants: Mapping[int, tuple[int, int]]) -> int:
        """Put variants on sale: ``variants`` maps variant id -> (stock_total, sold in SQL).
        Variants already on sale are left untouched. Returns how many were loaded."""
        k = _product_keys(product_id)
        argv: list[Any] = []
        for variant_id, (total, sold) in variants.items():
            argv += [variant_id, total, sold]
        loaded = int(await _LOAD.run(self.mux, [k["stock"], k["counts"], k["holdinfo"]], argv))
        await self.redis.sadd(keys.on_sale(), product_id)
        return loaded

    async def lower_to_sql(
        self, product_id: int, variant_id: int, total: int, sold: int
    ) -> tuple[int, int, int]:
        """Lower ``available`` to ``total - sold - held`` if above it (never raises it).
        Returns (available before, available after, held)."""
        k = _product_keys(product_id)
        raw = await _FIX.run(
            self.mux, [k["stock"], k["counts"], k["holdinfo"]], [variant_id, total, sold]
        )
        return int(raw[0]), int(raw[1]), int(raw[2])

    async def counts(self, product_id: int) -> dict[int, VariantCounts] | None:
        """Per variant: available, total, held, sold as Redis sees them (None if not on sale)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.product_stock(product_id))
        pipe.hgetall(keys.product_counts(product_id))
        stock, counts = await pipe.execute()
        if not stock:
            return None

        def c(prefix: str, v: bytes) -> int:
            return int(counts.get(prefix.encode() + v, 0))

        return {
            int(v): VariantCounts(int(a), c("t:", v), c("h:", v), c("s:", v))
            for v, a in stock.items()
        }

    async def held_by_variant(self, product_id: int) -> dict[int, int]:
        """Units held per variant, summed from the hold records themselves."""
        held: dict[int, int] = {}
        for raw in (await self.redis.hgetall(keys.product_holdinfo(product_id))).values():
            for variant_id, quantity in encoding.loads(raw)["l"]:
                held[int(variant_id)] = held.get(int(variant_id), 0) + int(quantity)
        return held

    async def holds(self, product_id: int, *, until_ms: float = float("inf")) -> list[str]:
        """Hold ids whose expiry is at or before ``until_ms`` (all by default)."""
        top = "+inf" if until_ms == float("inf") else int(until_ms)
        raw = await self.redis.zrangebyscore(keys.product_holds(product_id), "-inf", top)
        return [h.decode() if isinstance(h, bytes) else str(h) for h in raw]

    async def on_sale(self) -> list[int]:
        return sorted(int(p) for p in await self.redis.smembers(keys.on_sale()))
