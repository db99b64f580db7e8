"""A creator's earnings: the ledger summed by status, per show and per share link.

Statuses as :mod:`cart.commissions` defines them, at the app clock's ``now``. Per
currency, ``pending + payable + paid`` is the net of all the creator's entries (a
reversal and its entry cancel out; ``reversed`` is the amount that was earned and then
reversed, shown apart). Clicks come from the links' Redis counters through the
``link_stats`` callable the caller passes (livecommerce.creators.links), so this module
reads no Redis itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cart.commissions import EARNED, status_at
from cart.schemas import (
    EarningEntryOut,
    EarningsOut,
    LinkEarningsOut,
    ShowEarningsOut,
)
from livecommerce.db.models import AffiliateLink, CommissionEntry, Order

__all__ = ["LinkStatsReader", "earnings", "entry_out"]

#: code -> (clicks, unique visitors)
LinkStatsReader = Callable[[Sequence[str]], Awaitable[dict[str, tuple[int, int]]]]


def entry_out(e: CommissionEntry, now: datetime) -> EarningEntryOut:
    return EarningEntryOut(
        id=e.id,
        order_id=e.order_id,
        session_id=e.session_id,
        product_id=e.product_id,
        kind=e.kind,
        rate_bps=e.rate_bps,
        amount_minor=e.amount_minor,
        currency=e.currency,
        created_at=e.created_at,
        status=status_at(e, now),
        payable_at=e.payable_at,
        payout_id=e.payout_id,
    )


def _bucket(now: datetime) -> Any:
    return case(
        (
            and_(CommissionEntry.status == "pending", CommissionEntry.payable_at > now),
            "pending",
        ),
        (CommissionEntry.status == "pending", "payable"),
        else_=CommissionEntry.status,
    )


_Sums = dict[tuple[Any, str | None], dict[str, int]]
_FIGURES = ("pending", "payable", "paid", "reversed", "orders")


async def _sums(db: AsyncSession, creator_id: int, now: datetime, key: Any) -> _Sums:
    """(key, currency) -> {"pending", "payable", "paid", "reversed", "orders"}."""
    bucket = _bucket(now)
    query = (
        select(
            key,
            CommissionEntry.currency,
            bucket,
            CommissionEntry.kind,
            func.sum(CommissionEntry.amount_minor),
            func.count(distinct(CommissionEntry.order_id)),
        )
        .join(Order, Order.id == CommissionEntry.order_id)
        .where(CommissionEntry.creator_id == creator_id)
        .group_by(key, CommissionEntry.currency, bucket, CommissionEntry.kind)
    )
    out: _Sums = {}
    orders: dict[tuple[Any, str], int] = {}
    for k, currency, status, kind, total, count in await db.execute(query):
        sums = out.setdefault((k, currency), dict.fromkeys(_FIGURES, 0))
        if status == "reversed":
            if kind == EARNED:
                sums["reversed"] += int(total or 0)
        else:
            sums[status] += int(total or 0)
        if kind == EARNED:
            orders[(k, currency)] = orders.get((k, currency), 0) + int(count)
    for k, count in orders.items():
        out[k]["orders"] = count
    return out


async def earnings(
    db: AsyncSession,
    creator_id: int,
    *,
    now: datetime,
    link_stats: LinkStatsReader,
    limit: int = 100,
) -> EarningsOut:
    by_show = await _sums(db, creator_id, now, CommissionEntry.session_id)
    by_link = await _sums(db, creator_id, now, Order.link_id)
    per_currency: dict[str, dict[str, int]] = {}
    for (_, currency), sums in by_show.items():  # every entry has a currency
        into = per_currency.setdefault(str(currency), {"pending": 0, "payable": 0, "paid": 0})
        into.setdefault("reversed", 0)
        for name in ("pending", "payable", "paid", "reversed"):
            into[name] += sums[name]
    # Every link of the creator's, with its clicks: one that sold nothing yet too (its
    # figures zero, currency null), so a link's conversion shows from its first click.
    rows = await db.execute(
        select(AffiliateLink.id, AffiliateLink.code).where(AffiliateLink.creator_id == creator_id)
    )
    codes = {int(i): str(c) for i, c in rows}
    sold = {k for k, _ in by_link}
    for link_id in codes.keys() - sold:
        by_link[(link_id, None)] = dict.fromkeys(_FIGURES, 0)
    stats = await link_stats(list(codes.values())) if codes else {}
    links: list[LinkEarningsOut] = []
    for (link_id, currency), sums in sorted(by_link.items(), key=_order):
        code = codes.get(link_id) if link_id is not None else None
        clicks, uniques = stats.get(code, (0, 0)) if code else (0, 0)
        links.append(
            LinkEarningsOut(
                link_id=link_id,
                code=code,
                currency=currency,
                clicks=clicks,
                unique_visitors=uniques,
                conversion=round(sums["orders"] / clicks, 4) if clicks else 0.0,
                **_group(sums),
            )
        )
    rows_ = await db.scalars(
        select(CommissionEntry)
        .where(CommissionEntry.creator_id == creator_id)
        .order_by(CommissionEntry.id.desc())
        .limit(limit)
    )
    return EarningsOut(
        totals={c: s["pending"] + s["payable"] + s["paid"] for c, s in per_currency.items()},
        pending={c: s["pending"] for c, s in per_currency.items()},
        payable={c: s["payable"] for c, s in per_currency.items()},
        paid={c: s["paid"] for c, s in per_currency.items()},
        reversed={c: s["reversed"] for c, s in per_currency.items()},
        by_show=[
            ShowEarningsOut(session_id=k, currency=currency, **_group(sums))
            for (k, currency), sums in sorted(by_show.items(), key=_order)
        ],
        by_link=links,
        entries=[entry_out(e, now) for e in rows_],
    )


def _group(sums: dict[str, int]) -> dict[str, int]:
    return {
        "pending_minor": sums["pending"],
        "payable_minor": sums["payable"],
        "paid_minor": sums["paid"],
        "reversed_minor": sums["reversed"],
        "orders": sums["orders"],
    }


def _order(item: tuple[tuple[Any, str | None], dict[str, int]]) -> tuple[bool, int, str]:
    (k, currency), _ = item
    return (k is None, -(k or 0), currency or "")  # newest shows/links first, "none" last
