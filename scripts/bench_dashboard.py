#!/usr/bin/env python
"""Dashboard and chat-moderation benchmark: what live numbers and chat rules cost.

Runs in one process against its own private valkey-server and a SQLite file (or
``--database-url`` / ``--redis-url``), seeded with one live show: ``--products`` products,
``--orders`` paid orders from ``--buyers`` buyers, hub counters and a pin.

1. **Dashboard push**: every tick, ``--moderators`` moderator connections must each get the
   session's numbers. Ours (livecommerce.dashboard): one computation per session per tick,
   SQL aggregates cached ~1 s and shared, serialized once. Baseline, same run, same data:
   the straightforward way, one full computation (its own SQL) per moderator per tick.
   Figures: ms per tick (p50/p99) and SQL query sets per tick.
2. **Chat checks**: ``--messages`` chat messages through the hub's ``send_chat`` (its burst
   limit, publish) from 50 concurrent users, with the moderation check on
   (``--blocked-words`` blocked words; ban, mute and slow-mode lookups) vs the baseline:
   the same ``send_chat`` with the moderation check removed. Figures: messages/s each.

Last line: one JSON object. Run: ``.venv/bin/python -m scripts.bench_dashboard``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import insert

from livecommerce import encoding, keys
from livecommerce.dashboard import sales as sales_module
from livecommerce.dashboard.numbers import compute_dashboard
from livecommerce.dashboard.sales import SalesCache
from livecommerce.db.engine import Database
from livecommerce.db.migrate import amigrate
from livecommerce.db.models import (
    Brand,
    LiveSession,
    Order,
    OrderItem,
    Product,
    SessionProduct,
    User,
    Variant,
)
from livecommerce.hub.chat import send_chat
from livecommerce.moderation import state
from livecommerce.pinstate import PinState, store_pin
from livecommerce.settings import Settings
from livecommerce.valkey import EmbeddedValkey


def log(msg: str) -> None:
    print(f"[bench_dashboard {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def seed(db: Database, redis: Redis, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    async with db.sessions() as s:
        brand = Brand(name="Bench", slug=f"bench-{uuid.uuid4().hex[:8]}")
        s.add(brand)
        await s.flush()
        host = User(
            email=f"h{uuid.uuid4().hex[:8]}@b.dev", display_name="h", password_hash="x", role="host"
        )
        s.add(host)
        await s.flush()
        products = []
        for i in range(args.products):
            p = Product(brand_id=brand.id, name=f"P{i}", price_minor=1000 + i, currency="USD")
            s.add(p)
            await s.flush()
            s.add(
                Variant(
                    product_id=p.id, sku=f"{uuid.uuid4().hex[:12]}", name="v", stock_total=10**6
                )
            )
            products.append(p.id)
        show = LiveSession(host_id=host.id, title="bench", status="live", started_at=now)
        s.add(show)
        await s.flush()
        s.add_all(
            SessionProduct(session_id=show.id, product_id=p, position=i)
            for i, p in enumerate(products)
        )
        users = [
            {
                "email": f"b{i}-{uuid.uuid4().hex[:6]}@b.dev",
                "display_name": "b",
                "password_hash": "x",
                "role": "viewer",
            }
            for i in range(args.buyers)
        ]
        await s.execute(insert(User), users)
        await s.flush()
        from sqlalchemy import select

        buyer_ids = list(await s.scalars(select(User.id).where(User.email.like("b%@b.dev"))))
        variants = dict((await s.execute(select(Variant.product_id, Variant.id))).all())
        rng = random.Random(7)
        orders, items = [], []
        for _ in range(args.orders):
            oid = str(uuid.uuid4())
            pid = rng.choice(products)
            orders.append(
                {
                    "id": oid,
                    "user_id": rng.choice(buyer_ids),
                    "session_id": show.id,
                    "status": "paid",
                    "total_minor": 1000,
                    "currency": "USD",
                    "idempotency_key": oid,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            items.append(
                {
                    "order_id": oid,
                    "product_id": pid,
                    "variant_id": variants[pid],
                    "quantity": 1,
                    "unit_price_minor": 1000,
                }
            )
        for start in range(0, len(orders), 2000):
            await s.execute(insert(Order), orders[start : start + 2000])
            await s.execute(insert(OrderItem), items[start : start + 2000])
        await s.commit()
        sid = show.id
    await redis.hset(
        keys.session_counters(sid),
        mapping={
            "viewers_now": 1800,
            "viewers_peak": 2100,
            "chat_messages": 900,
            "reactions": 30000,
        },
    )
    await redis.pfadd(keys.session_uniques(sid), *[str(i) for i in range(args.buyers * 2)])
    await store_pin(
        redis,
        PinState(
            pin_id=1,
            session_id=sid,
            product_id=products[0],
            pinned_at_ms=int(time.time() * 1000),
            flash_price_minor=900,
        ),
    )
    return sid


async def bench_push(
    db: Database, redis: Redis, sid: int, args: argparse.Namespace
) -> dict[str, object]:
    queries = {"n": 0}
    original = sales_module.load_sales

    async def counted(*a: object, **k: object) -> sales_module.SessionSales:
        queries["n"] += 1
        return await original(*a, **k)  # type: ignore[arg-type]

    sales_module.load_sales = counted

    async def tick(shared: bool, cache: SalesCache) -> float:
        started = time.perf_counter()
        now_ms = int(time.time() * 1000)
        if shared:
            text = encoding.dumps(
                (
                    await compute_dashboard(redis, cache, sid, status="live", now_ms=now_ms)
                ).model_dump(mode="json")
            )
            frames = [text] * args.moderators
        else:
            frames = []
            for _ in range(args.moderators):
                fresh = SalesCache(db, ttl_s=0)
                frames.append(
                    encoding.dumps(
                        (
                            await compute_dashboard(redis, fresh, sid, status="live", now_ms=now_ms)
                        ).model_dump(mode="json")
                    )
                )
        assert len(frames) == args.moderators
        return (time.perf_counter() - started) * 1000

    result: dict[str, object] = {}
    for name, shared in (("ours", True), ("baseline", False)):
        cache = SalesCache(db, ttl_s=1.0)
        queries["n"] = 0
        times = []
        for _ in range(args.ticks):
            times.append(await tick(shared, cache))
            await asyncio.sleep(max(0.0, 1.0 - times[-1] / 1000) if shared else 0)
        result[name] = {
            "tick_ms_p50": pct(times, 0.5),
            "tick_ms_p99": pct(times, 0.99),
            "sql_query_sets_per_tick": round(queries["n"] / args.ticks, 2),
        }
        log(f"push {name}: {result[name]}")
    sales_module.load_sales = original
    return result


async def bench_chat(
    redis: Redis, settings: Settings, sid: int, args: argparse.Namespace
) -> dict[str, object]:
    from livecommerce.hub import chat as hub_chat

    words = [f"badword{i}" for i in range(args.blocked_words)]
    users = list(range(1, 51))
    per_user = args.messages // len(users)

    async def run() -> float:
        await redis.delete(*[keys.session_chat_rate(sid, u) for u in users])
        started = time.perf_counter()

        async def user(u: int) -> None:
            for i in range(per_user):
                await send_chat(
                    redis,
                    settings,
                    session_id=sid,
                    user_id=u,
                    name="u",
                    text=f"message {i} from {u}, nothing bad here",
                    now_ms=int(time.time() * 1000),
                )

        await asyncio.gather(*(user(u) for u in users))
        return float(per_user * len(users)) / (time.perf_counter() - started)

    await state.set_blocked_words(redis, sid, words)
    ours = await run()
    original = hub_chat.check_chat  # type: ignore[attr-defined]

    async def no_check(*_: object, **__: object) -> None:
        return None

    hub_chat.check_chat = no_check  # type: ignore[attr-defined]
    try:
        baseline = await run()
    finally:
        hub_chat.check_chat = original  # type: ignore[attr-defined]
    out: dict[str, object] = {
        "with_moderation_msgs_per_s": round(ours),
        "baseline_no_moderation_msgs_per_s": round(baseline),
        "blocked_words": len(words),
    }
    log(f"chat: {out}")
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--buyers", type=int, default=5000)
    parser.add_argument("--moderators", type=int, default=50)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--blocked-words", type=int, default=200)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        valkey = None
        redis_url = args.redis_url
        if redis_url is None:
            valkey = EmbeddedValkey(Path(tmp) / "valkey")
            redis_url = await valkey.astart()
        db_url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        await amigrate(db_url)
        db = Database(db_url)
        redis = Redis.from_url(redis_url)
        settings = Settings(secret_key="bench-" + "x" * 30, hub_chat_rate=10**6)
        try:
            log(f"seeding {args.orders} orders, {args.products} products, {args.buyers} buyers")
            sid = await seed(db, redis, args)
            push = await bench_push(db, redis, sid, args)
            chat = await bench_chat(redis, settings, sid, args)
        finally:
            await redis.aclose()
            await db.dispose()
            if valkey is not None:
                await valkey.astop()
    ours, base = push["ours"], push["baseline"]
    print(
        encoding.dumps(
            {
                "benchmark": "dashboard",
                "orders": args.orders,
                "moderators": args.moderators,
                "push_ours": ours,
                "push_baseline_per_moderator": base,
                "push_speedup_p50": round(base["tick_ms_p50"] / max(ours["tick_ms_p50"], 0.01), 1),  # type: ignore[index]
                "chat": chat,
            }
        ).decode()
    )


if __name__ == "__main__":
    asyncio.run(main())
