"""A session's dashboard, computed from what really happened.

Viewer counts, chat and reaction totals come from the hub's Redis counters
(``keys.session_counters``, ``keys.session_uniques``); per-minute rates from
samples of those totals kept in Redis (``keys.session_dashboard_samples``, so
every process and the HTTP endpoint agree); orders, units and GMV from SQL
orders (:mod:`livecommerce.dashboard.sales`); units left from the cart's stock
counters; the pin from the hub's pin state; stream health from the relay's
``keys.session_media`` hash.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from livecommerce import keys
from livecommerce.dashboard.sales import SalesCache, SessionSales
from livecommerce.dashboard.schemas import (
    DashboardOut,
    PinnedNumbers,
    ProductNumbers,
    StreamNumbers,
    ViewerNumbers,
)
from livecommerce.pinstate import current_pin
from livecommerce.stocklevels import total, units_left_of

__all__ = [
    "RATE_WINDOW_MS",
    "compute_dashboard",
    "conversion",
    "live_counters",
    "sample_rates",
    "stream_numbers",
]

RATE_WINDOW_MS = 60_000
#: Samples older than this are dropped (a little over the window).
_KEEP_MS = 70_000


async def live_counters(redis: Redis, session_id: int) -> dict[str, int]:
    """The hub's counters plus ``unique`` viewers, in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.session_counters(session_id))
        # As a plain command: redis-py's cluster pipeline refuses pfcount (it may take
        # several keys); with one key it goes to that key's master like the HGETALL.
        pipe.execute_command("PFCOUNT", keys.session_uniques(session_id))
        raw, unique = await pipe.execute()
    counters = {_text(k): int(v) for k, v in raw.items()}
    counters["unique"] = int(unique)
    return counters


async def sample_rates(
    redis: Redis, session_id: int, *, now_ms: int, chat: int, reactions: int
) -> tuple[float, float, float]:
    """Record this sample of the totals; return ``(chat/min, reactions/min, window s)``
    measured against the oldest sample of the last minute."""
    key = keys.session_dashboard_samples(session_id)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(key, {f"{now_ms}:{chat}:{reactions}": now_ms})
        pipe.zremrangebyscore(key, "-inf", now_ms - _KEEP_MS)
        pipe.zrangebyscore(key, now_ms - RATE_WINDOW_MS, "+inf", start=0, num=1)
        pipe.pexpire(key, 10 * _KEEP_MS)
        _, _, oldest, _ = await pipe.execute()
    then_ms, then_chat, then_reactions = (int(x) for x in _text(oldest[0]).split(":"))
    elapsed = now_ms - then_ms
    if elapsed < 1000:  # first sample: nothing to compare with yet
        return 0.0, 0.0, 0.0
    per_min = 60_000 / elapsed
    return (
        round((chat - then_chat) * per_min, 1),
        round((reactions - then_reactions) * per_min, 1),
        round(elapsed / 1000, 1),
    )


async def stream_numbers(redis: Redis, session_id: int) -> StreamNumbers | None:
    raw = await redis.hgetall(keys.session_media(session_id))
    if not raw:
        return None
    h = {_text(k): _text(v) for k, v in raw.items()}
    return StreamNumbers(
        publishing=h.get("publishing") == "1",
        codec=h.get("codec") or None,
        bitrate_bps=int(float(h.get("bitrate_bps") or 0)),
        fps=float(h.get("fps") or 0),
        loss_fraction=float(h.get("loss_fraction") or 0),
        viewers_on_media=int(h.get("viewers_on_media") or 0),
        updated_ms=int(h.get("updated_ms") or 0),
    )


async def compute_dashboard(
    redis: Redis, sales_cache: SalesCache, session_id: int, *, status: str, now_ms: int
) -> DashboardOut:
    """Every number of the dashboard of ``session_id`` at ``now_ms``."""
    counters = await live_counters(redis, session_id)
    chat, reactions = counters.get("chat_messages", 0), counters.get("reactions", 0)
    chat_rate, reaction_rate, window = await sample_rates(
        redis, session_id, now_ms=now_ms, chat=chat, reactions=reactions
    )
    sales = await sales_cache.get(session_id, now=datetime.fromtimestamp(now_ms / 1000, UTC))
    unique = counters["unique"]
    left = await units_left_of(redis, [pid for pid, _ in sales.products])
    products = [
        ProductNumbers(
            product_id=pid,
            name=name,
            units_sold=sales.by_product.get(pid, (0, 0))[0],
            gmv_minor=sales.by_product.get(pid, (0, 0))[1],
            units_left=total(left[pid]),
        )
        for pid, name in sales.products
    ]
    return DashboardOut(
        session=session_id,
        status=status,
        at_ms=now_ms,
        viewers=ViewerNumbers(
            now=counters.get("viewers_now", 0),
            peak=counters.get("viewers_peak", 0),
            unique=unique,
        ),
        chat_per_min=chat_rate,
        reactions_per_min=reaction_rate,
        orders_per_min=float(sales.orders_last_min),
        rate_window_s=window,
        chat_messages=chat,
        reactions=reactions,
        orders=sales.orders,
        buyers=sales.buyers,
        units_sold=sales.units_sold,
        gmv_minor=sales.gmv_minor,
        currency=sales.currency,
        conversion=conversion(sales, unique),
        products=products,
        pinned=await _pinned(redis, session_id, sales, now_ms),
        stream=await stream_numbers(redis, session_id),
    )


def conversion(sales: SessionSales, unique_viewers: int) -> float:
    """Buyers / unique viewers; a buyer who never joined the room still counts as a viewer."""
    viewers = max(unique_viewers, sales.buyers)
    return round(sales.buyers / viewers, 4) if viewers else 0.0


async def _pinned(
    redis: Redis, session_id: int, sales: SessionSales, now_ms: int
) -> PinnedNumbers | None:
    pin = await current_pin(redis, session_id)
    if pin is None:
        return None
    names = dict(sales.products)
    return PinnedNumbers(
        pin_id=pin.pin_id,
        product_id=pin.product_id,
        name=names.get(pin.product_id, f"product {pin.product_id}"),
        flash_price_minor=pin.flash_price_minor,
        pinned_at_ms=pin.pinned_at_ms,
        pinned_for_s=round(max(0, now_ms - pin.pinned_at_ms) / 1000, 1),
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
