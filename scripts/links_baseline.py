#!/usr/bin/env python
"""The baseline of scripts/bench_links.py: a share-link redirect that writes SQL per click.

Per request: look the link up in SQL (``affiliate_links`` with its creator's handle),
insert one row into ``bench_link_clicks`` (link id, visitor id, time) in its own
transaction (``BEGIN IMMEDIATE`` on SQLite), sign the same attribution cookie, and
redirect (302) — the straightforward way to count clicks. Same HTTP stack as ours
(uvicorn + Starlette). Run by the bench: ``links_baseline.py DATABASE_URL PORT`` with
``SECRET_KEY`` in the environment. Totals and uniques are then ``COUNT(*)`` and
``COUNT(DISTINCT visitor)`` per link (:func:`counts`).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from typing import Any

from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, String, Table

from scripts.baseline_sql import serve, sql_engine

metadata = MetaData()
#: The baseline's click log (created by the bench; not part of the app's schema).
CLICKS = Table(
    "bench_link_clicks",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("link_id", Integer, nullable=False, index=True),
    Column("visitor", String(32), nullable=False),
    Column("clicked_at", Float, nullable=False),
)


def baseline_app(database_url: str) -> Any:
    from sqlalchemy import insert, select
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import RedirectResponse, Response
    from starlette.routing import Route

    from livecommerce.auth.tokens import TokenSigner
    from livecommerce.creators import attribution
    from livecommerce.db.models import AffiliateLink, User

    engine, _ = sql_engine(database_url)
    signer = TokenSigner(os.environ["SECRET_KEY"], ttl_s=3600)
    window_s = 7 * 86400

    async def follow(request: Request) -> Response:
        code = request.path_params["code"]
        visitor = request.cookies.get("lc_v") or secrets.token_hex(16)
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        AffiliateLink.id,
                        AffiliateLink.creator_id,
                        AffiliateLink.target,
                        AffiliateLink.product_id,
                        AffiliateLink.session_id,
                        User.handle,
                    )
                    .join(User, User.id == AffiliateLink.creator_id)
                    .where(AffiliateLink.code == code)
                )
            ).first()
        if row is None:
            return Response(b'{"code":"not_found"}', 404, media_type="application/problem+json")
        link_id, creator_id, target, product_id, session_id, handle = row
        now = time.time()
        async with engine.begin() as conn:
            await conn.execute(
                insert(CLICKS).values(link_id=link_id, visitor=visitor, clicked_at=now)
            )
        location = {
            "product": f"/p/{product_id}",
            "show": f"/watch/{session_id}",
        }.get(target, f"/@{handle}")
        token = attribution.issue(
            signer, creator_id=creator_id, link_id=link_id, clicked_at=now, window_s=window_s
        )
        response = RedirectResponse(location, status_code=302)
        response.set_cookie("lc_attr", token, max_age=window_s, httponly=True, samesite="lax")
        return response

    async def ready(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(routes=[Route("/l/{code}", follow, methods=["GET"]), Route("/readyz", ready)])


async def create_table(database_url: str) -> None:
    from livecommerce.db.engine import Database

    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await db.dispose()


async def counts(database_url: str) -> dict[int, tuple[int, int]]:
    """link id -> (clicks, distinct visitors) from the baseline's log."""
    from sqlalchemy import func, select

    from livecommerce.db.engine import Database

    db = Database(database_url)
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(
                CLICKS.c.link_id, func.count(), func.count(func.distinct(CLICKS.c.visitor))
            ).group_by(CLICKS.c.link_id)
        )
        found = {int(link): (int(n), int(u)) for link, n, u in rows}
    await db.dispose()
    return found


if __name__ == "__main__":
    serve(baseline_app(sys.argv[1]), int(sys.argv[2]))
