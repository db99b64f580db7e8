"""``livecommerce seed-demo``: a brand with products, a host, a moderator, two viewers
with saved test payment methods, and a scheduled show with a lineup."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from livecommerce.accounts.payment_methods import add_method
from livecommerce.accounts.store import create_user
from livecommerce.catalog.schemas import ProductIn, VariantIn
from livecommerce.catalog.store import create_product
from livecommerce.db.engine import Database
from livecommerce.db.models import Brand, LiveSession, Role, SessionModerator, utcnow
from livecommerce.live.schemas import SessionIn
from livecommerce.live.store import create_session
from livecommerce.settings import Settings

__all__ = ["DEMO_PASSWORD", "seed_demo"]

DEMO_PASSWORD = "livecommerce-demo"

_PRODUCTS = [
    ("Aurora Glow Serum", 2900, 1500, ["30 ml", "50 ml"], 120),
    ("Midnight Matte Lipstick", 1800, 1200, ["Ruby", "Mauve", "Nude"], 80),
    ("Cloudwalk Sneakers", 8900, 800, ["38", "40", "42", "44"], 40),
    ("Everyday Canvas Tote", 2400, 1000, ["One size"], 200),
    ("Silk Sleep Mask", 1500, 1500, ["Black", "Blush"], 150),
    ("Ceramic Pour-Over Set", 4500, 900, ["White"], 60),
    ("Merino Crew Sweater", 7900, 700, ["S", "M", "L"], 50),
    ("Bamboo Toothbrush 4-pack", 900, 1200, ["Soft"], 500),
    ("Wireless Earbuds Lite", 5900, 600, ["Black", "White"], 75),
    ("Hydrating Sheet Masks x10", 1900, 1500, ["Original"], 300),
]

_ADDRESS = {
    "name": "Demo Viewer",
    "line1": "1 Market Street",
    "line2": "",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


async def seed_demo(settings: Settings, *, base_url: str) -> int:
    db = Database(settings.database_url)
    try:
        async with db.sessions() as session:
            if await session.scalar(select(Brand.id).where(Brand.slug == "aurora-goods")):
                print("demo data already present; nothing to do")
                _print_logins(base_url, show_id=await session.scalar(select(LiveSession.id)))
                return 0
            brand = Brand(name="Aurora Goods", slug="aurora-goods")
            session.add(brand)
            await session.flush()
            users = {}
            for key, role, name in [
                ("admin", Role.ADMIN, "Ada Admin"),
                ("brand", Role.BRAND, "Bea from Aurora"),
                ("host", Role.HOST, "Hana Host"),
                ("moderator", Role.MODERATOR, "Milo Moderator"),
                ("viewer1", Role.VIEWER, "Vera Viewer"),
                ("viewer2", Role.VIEWER, "Victor Viewer"),
            ]:
                users[key] = await create_user(
                    session,
                    email=f"{key}@demo.livecommerce.dev",
                    password=DEMO_PASSWORD,
                    display_name=name,
                    role=role,
                    brand_id=brand.id if role == Role.BRAND else None,
                    shipping_address={**_ADDRESS, "name": name} if role == Role.VIEWER else None,
                )
            for key in ("viewer1", "viewer2"):
                await add_method(
                    session,
                    users[key].id,
                    gateway="test",
                    token="pm_card_visa",
                    brand="visa",
                    last4="4242",
                )
            product_ids = []
            for i, (name, price, bps, variants, stock) in enumerate(_PRODUCTS, start=1):
                product = await create_product(
                    session,
                    brand.id,
                    ProductIn(
                        name=name,
                        description=f"{name} from Aurora Goods.",
                        images=[f"/static/demo/product-{i}.svg"],
                        price_minor=price,
                        currency="USD",
                        commission_bps=bps,
                        variants=[
                            VariantIn(sku=f"AUR-{i:02d}-{j}", name=v, stock_total=stock)
                            for j, v in enumerate(variants, start=1)
                        ],
                    ),
                )
                product_ids.append(product.id)
            show = await create_session(
                session,
                users["host"].id,
                SessionIn(
                    title="Aurora Friday Night Live",
                    description="Skincare, sneakers and surprises: flash deals all night.",
                    scheduled_at=utcnow() + timedelta(hours=1),
                    product_ids=product_ids,
                ),
            )
            session.add(SessionModerator(session_id=show.id, user_id=users["moderator"].id))
            await session.commit()
            print(f"seeded demo: brand {brand.id}, {len(product_ids)} products, show {show.id}")
            _print_logins(base_url, show_id=show.id)
            return 0
    finally:
        await db.dispose()


def _print_logins(base_url: str, *, show_id: int | None) -> None:
    print(f"logins (password for all: {DEMO_PASSWORD}):")
    for key in ("admin", "brand", "host", "moderator", "viewer1", "viewer2"):
        print(f"  {key:<10} {key}@demo.livecommerce.dev")
    if show_id is not None:
        print(f"  watch:    {base_url}/watch/{show_id}")
        print(f"  host:     {base_url}/host/{show_id}")
        print(f"  moderate: {base_url}/moderate/{show_id}")
