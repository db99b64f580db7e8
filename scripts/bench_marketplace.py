#!/usr/bin/env python
"""Marketplace search at 100,000 products: query latency on SQLite or PostgreSQL.

1. a fresh database (SQLite in a temp dir, or ``--database-url``: its tables are dropped
   and migrated first -- give it a database of its own), ``livecommerce migrate``;
2. seeds ``--products`` products (default 100,000) of 100 brands in 20 categories, names
   of three common words and a model code (``m01234``), every one open to all creators at a
   rate of 1-80 %, their words in ``product_terms`` (what the catalog writes), one creator
   with 20 accepted targeted offers;
3. runs each query shape ``--runs`` times (after ``--warmup`` unmeasured runs) through
   ``livecommerce.creators.marketplace.search`` (what ``GET /api/marketplace`` runs,
   without HTTP), parameters varied per run, and a
   baseline in the same run: the straightforward search (``lower(name) LIKE '%word%'``,
   ``OFFSET`` pages) for the text and deep-page shapes.

The last line printed is one JSON object: per shape ``p50_ms``, ``p99_ms`` and the rows
of its first run. Run: ``.venv/bin/python -m scripts.bench_marketplace
[--database-url postgresql+asyncpg://127.0.0.1:5432/bench_marketplace]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce import encoding
from livecommerce.creators import marketplace
from livecommerce.db.engine import Database
from livecommerce.db.migrate import migrate
from livecommerce.db.models import (
    Brand,
    CollabOffer,
    Collaboration,
    CollabRate,
    Product,
    ProductTerm,
    User,
    name_terms,
)

ADJECTIVES = (
    "classic soft bold light warm cool urban trail summer winter smart slim daily "
    "premium vintage sport travel cozy bright silent"
).split()
COLOURS = "red blue green black white grey navy olive pink yellow orange purple".split()
NOUNS = (
    "shoe runner sneaker boot hat cap scarf jacket coat shirt dress skirt bag backpack "
    "wallet watch lamp mug bottle speaker headphones charger blanket pillow candle "
    "notebook pen sunglasses belt gloves"
).split()
CATEGORIES = [f"cat-{i:02d}" for i in range(20)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def reset(db: Database, url: str) -> None:
    if url.startswith("sqlite"):
        return
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))


async def seed(db: Database, n: int, rng: random.Random) -> int:
    """The catalog; returns the creator's id."""
    now = datetime.now(UTC) - timedelta(days=1)
    async with db.sessions() as s:
        await s.execute(
            insert(Brand), [{"name": f"Brand {i}", "slug": f"brand-{i}"} for i in range(100)]
        )
        brand_ids = list(await s.scalars(select(Brand.id)))
        creator = User(
            email="creator@bench.example", display_name="Creator", password_hash="x", role="host"
        )
        s.add(creator)
        await s.flush()
        creator_id = creator.id
        batch = 5000
        for start in range(0, n, batch):
            rows = []
            for i in range(start, min(n, start + batch)):
                name = (
                    f"{rng.choice(ADJECTIVES).title()} {rng.choice(COLOURS)} "
                    f"{rng.choice(NOUNS)} m{i:05d}"
                )
                rows.append(
                    {
                        "brand_id": rng.choice(brand_ids),
                        "name": name,
                        "description": "",
                        "images": [],
                        "price_minor": rng.randrange(100, 100_000),
                        "currency": "EUR",
                        "commission_bps": 500,
                        "category": rng.choice(CATEGORIES),
                        "is_active": rng.random() > 0.02,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            await s.execute(insert(Product), rows)
            await s.commit()
            print(f"seeded {min(n, start + batch)} products", file=sys.stderr, flush=True)
        products = (await s.execute(select(Product.id, Product.name, Product.brand_id))).all()
        for start in range(0, len(products), batch):
            chunk = products[start : start + batch]
            await s.execute(
                insert(ProductTerm),
                [
                    {"term": t, "product_id": pid}
                    for pid, name, _ in chunk
                    for t in name_terms(name)
                ],
            )
            rates = [(pid, bid, rng.randrange(100, 8001)) for pid, _, bid in chunk]
            await s.execute(
                insert(Collaboration),
                [
                    {
                        "product_id": p,
                        "brand_id": b,
                        "rate_bps": r,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for p, b, r in rates
                ],  # fmt: skip
            )
            await s.execute(
                insert(CollabRate),
                [
                    {"product_id": p, "rate_bps": r, "effective_from": now, "created_at": now}
                    for p, _, r in rates
                ],
            )
            await s.commit()
        offered = rng.sample(products, 20)
        await s.execute(
            insert(CollabOffer),
            [
                {
                    "product_id": pid,
                    "brand_id": bid,
                    "creator_id": creator_id,
                    "rate_bps": 8000,
                    "status": "accepted",
                    "created_at": now,
                    "responded_at": now,
                }
                for pid, _, bid in offered
            ],  # fmt: skip
        )
        await s.commit()
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return creator_id


Shape = Callable[[AsyncSession, random.Random], Awaitable[int]]


def shapes(
    creator_id: int, brand_ids: list[int], now: datetime, deep_after: int
) -> dict[str, Shape]:
    def ours(**kwargs: Any) -> Callable[[random.Random], marketplace.Search]:
        return lambda rng: marketplace.Search(
            **{k: (v(rng) if callable(v) else v) for k, v in kwargs.items()}
        )

    async def run(s: AsyncSession, search: marketplace.Search) -> int:
        rows, _ = await marketplace.search(s, creator_id, search, now=now)
        return len(rows)

    def shape(make: Callable[[random.Random], marketplace.Search]) -> Shape:
        return lambda s, rng: run(s, make(rng))

    async def deep(s: AsyncSession, rng: random.Random) -> int:
        # Page 200 of "newest", from its cursor (what the client holds by then).
        return await run(s, marketplace.Search(after=(deep_after, deep_after)))

    async def like(s: AsyncSession, rng: random.Random) -> int:
        word = rng.choice(COLOURS + NOUNS)[:4]
        rows = await s.execute(
            select(Product.id, Collaboration.rate_bps)
            .join(Collaboration, Collaboration.product_id == Product.id)
            .where(Product.is_active.is_(True), func.lower(Product.name).like(f"%{word}%"))
            .order_by(Product.id.desc()).limit(21)
        )  # fmt: skip
        return len(rows.all())

    async def like_rare(s: AsyncSession, rng: random.Random) -> int:
        code = f"m{rng.randrange(0, 10_000):04d}"
        rows = await s.execute(
            select(Product.id, Collaboration.rate_bps)
            .join(Collaboration, Collaboration.product_id == Product.id)
            .where(Product.is_active.is_(True), func.lower(Product.name).like(f"%{code}%"))
            .order_by(Product.id.desc()).limit(21)
        )  # fmt: skip
        return len(rows.all())

    async def offset_deep(s: AsyncSession, rng: random.Random) -> int:
        rows = await s.execute(
            select(Product.id, Collaboration.rate_bps)
            .join(Collaboration, Collaboration.product_id == Product.id)
            .where(Product.is_active.is_(True))
            .order_by(Product.id.desc()).offset(200 * 20).limit(21)
        )  # fmt: skip
        return len(rows.all())

    return {
        "newest": shape(ours()),
        "text_common": shape(ours(q=lambda r: r.choice(COLOURS + NOUNS)[:4])),
        "text_two_words": shape(ours(q=lambda r: f"{r.choice(COLOURS)} {r.choice(NOUNS)[:3]}")),
        "text_rare": shape(ours(q=lambda r: f"m{r.randrange(0, 10_000):04d}")),
        "category": shape(ours(category=lambda r: r.choice(CATEGORIES))),
        "brand": shape(ours(brand_id=lambda r: r.choice(brand_ids))),
        "price_range_price_asc": shape(
            ours(min_price=lambda r: r.randrange(100, 90_000), max_price=100_000, sort="price_asc")
        ),  # fmt: skip
        "min_rate_rate_desc": shape(
            ours(min_rate=lambda r: r.randrange(100, 8000), sort="rate_desc")
        ),  # fmt: skip
        "category_text_rate": shape(
            ours(
                category=lambda r: r.choice(CATEGORIES),
                q=lambda r: r.choice(NOUNS)[:3],
                min_rate=2000,
            )
        ),  # fmt: skip
        "deep_page_200": deep,
        "baseline_like_common": like,
        "baseline_like_rare": like_rare,
        "baseline_offset_page_200": offset_deep,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="bench-marketplace-")
    url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
    db = Database(url)
    await reset(db, url)
    await db.dispose()
    await asyncio.to_thread(migrate, url)
    db = Database(url)
    rng = random.Random(7)
    t0 = time.perf_counter()
    creator_id = await seed(db, args.products, rng)
    seeded_s = time.perf_counter() - t0
    async with db.sessions() as s:
        brand_ids = list(await s.scalars(select(Brand.id)))
        # The last id of page 199 of "newest": the cursor a client holds for page 200.
        deep_after = await s.scalar(
            select(Product.id).where(Product.is_active.is_(True)).order_by(Product.id.desc())
            .offset(199 * 20 - 1).limit(1)
        )  # fmt: skip
    assert deep_after is not None
    now = datetime.now(UTC)
    figures: dict[str, Any] = {}
    for name, run in shapes(creator_id, brand_ids, now, deep_after).items():
        times, rows = [], None
        for _ in range(args.warmup):  # unmeasured: a cold page cache is not the query's cost
            async with db.sessions() as s:
                await run(s, rng)
        for _ in range(args.runs):
            async with db.sessions() as s:
                started = time.perf_counter()
                count = await run(s, rng)
                times.append((time.perf_counter() - started) * 1000)
            rows = count if rows is None else rows
        figures[name] = {
            "p50_ms": round(percentile(times, 0.5), 2),
            "p99_ms": round(percentile(times, 0.99), 2),
            "rows_first_run": rows,
        }
        print(f"{name:28} p50 {figures[name]['p50_ms']:8.2f} ms  p99 "
              f"{figures[name]['p99_ms']:8.2f} ms", file=sys.stderr, flush=True)  # fmt: skip
    await db.dispose()
    return {
        "database": url.split(":", 1)[0],
        "products": args.products,
        "runs": args.runs,
        "load_avg_1m": os.getloadavg()[0],
        "seed_s": round(seeded_s, 1),
        "shapes": figures,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured runs per shape")
    result = asyncio.run(main(parser.parse_args()))
    print(encoding.dumps(result).decode())
