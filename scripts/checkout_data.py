"""The data of scripts/bench_checkout.py: seeding the sale in SQL and checking it after.

Buyers are inserted directly (one precomputed password hash) and their tokens signed with
``SECRET``, the ``SECRET_KEY`` the benchmark gives its servers.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

SECRET = "bench-secret-key-" + "x" * 20


async def seed(database_url: str, args: argparse.Namespace) -> dict[str, Any]:

    from livecommerce.accounts.bulk import insert_buyers
    from livecommerce.auth.passwords import hash_password
    from livecommerce.auth.tokens import TokenSigner
    from livecommerce.db.engine import Database
    from livecommerce.db.models import (
        Brand,
        LiveSession,
        Product,
        SessionProduct,
        User,
        Variant,
    )

    db = Database(database_url)
    signer = TokenSigner(SECRET, ttl_s=3600)
    tag = uuid.uuid4().hex[:8]
    password = hash_password("bench password")
    address = {
        "name": "Buyer",
        "line1": "1 Bench Road",
        "city": "Loadville",
        "postal_code": "10000",
        "country": "US",
    }
    async with db.sessions() as s, s.begin():
        brand = Brand(name="Bench", slug=f"bench-{tag}")
        host = User(
            email=f"host-{tag}@bench.dev", display_name="Host", password_hash=password, role="host"
        )
        s.add_all([brand, host])
        await s.flush()
        products = {}
        for name in ("ours", "baseline", "ours-warmup", "baseline-warmup"):
            units = 10**6 if name.endswith("warmup") else args.stock
            product = Product(
                brand_id=brand.id,
                name=f"Hot item ({name})",
                price_minor=1999,
                currency="USD",
                commission_bps=1000,
                variants=[Variant(sku=f"{name}-{tag}", name="One size", stock_total=units)],
            )
            s.add(product)
            await s.flush()
            products[name] = (product.id, product.variants[0].id)
        show = LiveSession(host_id=host.id, title="Flash sale", status="scheduled")
        s.add(show)
        await s.flush()
        s.add(SessionProduct(session_id=show.id, product_id=products["ours"][0], position=0))
        emails = [f"b{i}-{tag}@bench.dev" for i in range(args.buyers)]
        ids = await insert_buyers(s, emails, password_hash=password, address=address)
    await db.dispose()
    return {
        "products": products,
        "show_id": show.id,
        "host": signer.issue(host.id, "host"),
        "buyers": [(uid, signer.issue(uid, "viewer")) for uid in ids],
    }


async def verify(database_url: str, product_id: int, stock: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from livecommerce.db.engine import Database
    from livecommerce.db.models import Order, OrderItem

    db = Database(database_url)
    async with db.sessions() as s:
        sold = await s.scalar(
            select(func.coalesce(func.sum(OrderItem.quantity), 0)).where(
                OrderItem.product_id == product_id
            )
        )
        orders = await s.scalar(
            select(func.count(func.distinct(Order.id)))
            .join(OrderItem, OrderItem.order_id == Order.id)
            .where(OrderItem.product_id == product_id)
        )
    await db.dispose()
    return {"oversold": max(0, int(sold or 0) - stock), "orders_in_sql": int(orders or 0)}
