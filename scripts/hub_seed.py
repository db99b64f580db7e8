"""The data of scripts/bench_hub.py: admin, brand, products, host and a live show."""

from __future__ import annotations

from typing import Any

import httpx


async def seed(base: str, database_url: str) -> dict[str, Any]:
    """Admin and brand users (SQL), then brand, products, host and live show via the API."""
    from livecommerce.accounts.store import create_user
    from livecommerce.db.engine import Database

    db = Database(database_url)
    password = "correct horse battery"
    async with db.sessions() as s:
        await create_user(
            s, email="admin@bench.dev", password=password, display_name="a", role="admin"
        )
        await s.commit()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def login(email: str) -> dict[str, str]:
            r = await client.post("/api/auth/login", json={"email": email, "password": password})
            r.raise_for_status()
            return {"Authorization": f"Bearer {r.json()['token']}"}

        admin = await login("admin@bench.dev")
        r = await client.post("/api/brands", json={"name": "B", "slug": "bench"}, headers=admin)
        r.raise_for_status()
        brand_id = r.json()["id"]
        async with db.sessions() as s:
            await create_user(
                s,
                email="brand@bench.dev",
                password=password,
                display_name="b",
                role="brand",
                brand_id=brand_id,
            )
            await s.commit()
        brand = await login("brand@bench.dev")
        products = []
        for i in range(2):
            r = await client.post(
                f"/api/brands/{brand_id}/products",
                json={
                    "name": f"Bench product {i}",
                    "description": "A product for the hub benchmark.",
                    "images": ["https://example.com/p.jpg"],
                    "price_minor": 2500,
                    "currency": "USD",
                    "variants": [
                        {"sku": f"BENCH-{i}-{v}", "name": f"Size {v}", "stock_total": 1000}
                        for v in range(3)
                    ],
                },
                headers=brand,
            )
            r.raise_for_status()
            products.append(r.json()["id"])
        r = await client.post(
            "/api/auth/signup",
            json={
                "email": "host@bench.dev",
                "password": password,
                "display_name": "host",
                "role": "host",
            },
        )
        r.raise_for_status()
        host = await login("host@bench.dev")
        r = await client.post(
            "/api/sessions", json={"title": "Bench show", "product_ids": products}, headers=host
        )
        r.raise_for_status()
        session_id = r.json()["id"]
        r = await client.post(f"/api/sessions/{session_id}/start", headers=host)
        r.raise_for_status()
    await db.dispose()
    return {
        "session": session_id,
        "products": products,
        "host_token": host["Authorization"].split(" ", 1)[1],
    }
