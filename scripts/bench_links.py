#!/usr/bin/env python
"""Share-link benchmark (issue 13, DESIGN section 8): clicks and attributed purchases.

What it does, all on this machine:

1. starts its own stack: a private valkey-server, SQLite in a temp dir (or
   ``--database-url``), ``livecommerce migrate``, ``--servers`` ``livecommerce serve``
   processes;
2. seeds ``--creators`` creators (hosts with handles, one show each), ``--products``
   products (odd prices, each its own commission rate) and ``--buyers`` buyers with a saved
   address and test card (direct SQL; tokens signed with the servers' SECRET_KEY), then
   makes ``--links`` share links through the real API (``POST /api/links``): 80 % to
   products, 10 % to the creator's show, 10 % to the showcase;
3. the clicks: ``--clicks`` (50,000) ``GET /l/{code}`` over real HTTP, each on a link and
   from a visitor (``--visitors`` lc_v cookies) drawn at random (seeded), from
   ``--clients`` load-generator processes with ``--conns`` keep-alive connections each;
   the first ``--warmup`` clicks are not timed (they are counted);
4. checks every click counted: ``GET /api/me/links`` of every creator against the plan —
   totals exact, unique visitors within HyperLogLog's error (reported: the largest error);
5. ``--buyers`` attributed purchases (2,000): each buyer, in a browser-like client of its
   own, follows a product link (302, cookie ``lc_attr``) and buys (``POST /api/buy``)
   1–3 units of that product; then checks in SQL that every order is credited to the link's
   creator and link, and that every commission entry is price × units × the product's rate
   (floored) to the cent;
6. the baseline, same run, same links, the same clicks (the plan's first
   ``--baseline-clicks``, 10,000: at its rate all 50,000 would take minutes), same HTTP stack
   (uvicorn + Starlette, as many processes): a redirect that looks the link up in SQL and
   inserts one row per click (``scripts/links_baseline.py``); its counts are checked the same
   way from SQL.

Figures: ``clicks_per_s`` (timed clicks / their wall time), ``p50_ms``/``p99_ms``/``max_ms``
per redirect, ``server_cpu_s`` and ``server_cpu_ms_per_click``; ``throughput_ratio`` = ours /
baseline (goal ≥ 5), ``cpu_cost_ratio`` = the baseline's CPU per click / ours, and the
baseline's own figures. Progress goes to stderr; the last line printed is one JSON object.
Run: ``.venv/bin/python -m scripts.bench_links [--clicks 5000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from livecommerce import encoding
from scripts.bench_procs import cpu_seconds, start_servers, stop_servers
from scripts.bench_scratch import Scratch, bench_scratch
from scripts.checkout_load import percentile
from scripts.links_load import click_process

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-links-secret-" + "x" * 20


def log(msg: str) -> None:
    print(f"[bench_links {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def seed(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    from livecommerce.accounts.bulk import insert_buyers
    from livecommerce.auth.passwords import hash_password
    from livecommerce.auth.tokens import TokenSigner
    from livecommerce.db.engine import Database
    from livecommerce.db.models import Brand, LiveSession, Product, User, Variant

    db = Database(database_url)
    signer = TokenSigner(SECRET, ttl_s=7200)
    tag = uuid.uuid4().hex[:6]
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
        s.add(brand)
        creators = [
            User(
                email=f"c{i}-{tag}@bench.dev",
                display_name=f"Creator {i}",
                password_hash=password,
                role="host",
                handle=f"c{i}_{tag}",
            )
            for i in range(args.creators)
        ]
        s.add_all(creators)
        await s.flush()
        shows = [LiveSession(host_id=c.id, title=f"Show of {c.handle}") for c in creators]
        products = [
            Product(
                brand_id=brand.id,
                name=f"Item {j}",
                price_minor=1999 + 7 * j,
                currency="USD",
                commission_bps=300 + 17 * j,
                variants=[Variant(sku=f"s{j}-{tag}", name="One", stock_total=10**6)],
            )
            for j in range(args.products)
        ]
        s.add_all([*shows, *products])
        await s.flush()
        emails = [f"b{i}-{tag}@bench.dev" for i in range(args.buyers)]
        buyer_ids = await insert_buyers(s, emails, password_hash=password, address=address)
    await db.dispose()
    return {
        "creators": [(c.id, signer.issue(c.id, "host")) for c in creators],
        "shows": [show.id for show in shows],
        "products": [(p.id, p.variants[0].id, p.price_minor, p.commission_bps) for p in products],
        "buyers": [(uid, signer.issue(uid, "viewer")) for uid in buyer_ids],
    }


async def make_links(url: str, seeded: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` links through ``POST /api/links``: 80 % products, 10 % shows, 10 % showcases."""
    import httpx

    creators, products = seeded["creators"], seeded["products"]
    bodies = []
    for i in range(n):
        c = i % len(creators)
        kind = "product" if i % 10 < 8 else "show" if i % 10 == 8 else "showcase"
        target_id = {
            "product": products[i % len(products)][0],
            "show": seeded["shows"][c],
            "showcase": None,
        }[kind]
        bodies.append((c, {"target": kind, "id": target_id}))
    links: list[dict[str, Any]] = [{}] * n
    gate = asyncio.Semaphore(32)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(i: int, c: int, body: dict[str, Any]) -> None:
            async with gate:
                headers = {"Authorization": f"Bearer {creators[c][1]}"}
                r = await client.post("/api/links", json=body, headers=headers)
                r.raise_for_status()
                links[i] = {**r.json(), "creator": c}

        await asyncio.gather(*(one(i, c, b) for i, (c, b) in enumerate(bodies)))
    return links


def run_clicks(
    urls: list[str], plan: list[tuple[str, str]], args: argparse.Namespace
) -> tuple[list[tuple[int, float]], float]:
    """The plan over ``--clients`` processes (process c sends to server c mod n, the load
    balancer's job); returns the replies and the wall time."""
    ctx = mp.get_context("spawn")
    start_at = time.time() + 1.0
    procs, pipes = [], []
    for c in range(args.clients):
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(
            target=click_process,
            args=(urls[c % len(urls)], plan[c :: args.clients], args.conns, start_at, child),
        )
        p.start()
        procs.append(p)
        pipes.append(parent)
    results: list[tuple[int, float]] = []
    firsts, lasts = [], []
    for pipe in pipes:
        got, first, last = pipe.recv()
        results += got
        firsts.append(first)
        lasts.append(last)
    for p in procs:
        p.join()
    return results, max(lasts) - min(firsts)


def click_side(
    name: str,
    urls: list[str],
    servers: list[subprocess.Popen[bytes]],
    plan: list[tuple[str, str]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    warm, timed = plan[: args.warmup], plan[args.warmup :]
    if warm:
        run_clicks(urls, warm, args)
        log(f"{name}: {len(warm)} warm-up clicks")
    cpu0 = cpu_seconds(servers)
    log(f"{name}: {len(timed)} clicks ({args.clients} clients x {args.conns} connections)")
    results, wall = run_clicks(urls, timed, args)
    latencies = [ms for _, ms in results]
    statuses: dict[str, int] = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    figures = {
        "clicks": len(results),
        "clicks_per_s": round(len(results) / wall, 1) if wall else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies, default=0.0), 2),
        "wall_s": round(wall, 2),
        "server_cpu_s": round(cpu_seconds(servers) - cpu0, 2),
        "server_cpu_ms_per_click": round((cpu_seconds(servers) - cpu0) * 1000 / len(results), 3)
        if results
        else None,
        "replies": statuses,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    log(f"{name}: {encoding.dumps(figures).decode()}")
    return figures


def expected_counts(
    plan: list[tuple[str, str]],
) -> dict[str, tuple[int, int]]:
    totals: dict[str, int] = {}
    visitors: dict[str, set[str]] = {}
    for code, visitor in plan:
        totals[code] = totals.get(code, 0) + 1
        visitors.setdefault(code, set()).add(visitor)
    return {code: (totals[code], len(visitors[code])) for code in totals}


def compare(
    expected: dict[str, tuple[int, int]], found: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    """Totals must be exact; uniques are reported with their largest relative error."""
    wrong_totals = sum(1 for code, (n, _) in expected.items() if found.get(code, (0, 0))[0] != n)
    errors = [abs(found.get(code, (0, 0))[1] - u) / u for code, (_, u) in expected.items() if u]
    return {
        "links_checked": len(expected),
        "clicks_expected": sum(n for n, _ in expected.values()),
        "clicks_counted": sum(found.get(code, (0, 0))[0] for code in expected),
        "links_with_wrong_total": wrong_totals,
        "uniques_expected": sum(u for _, u in expected.values()),
        "uniques_counted": sum(found.get(code, (0, 0))[1] for code in expected),
        "uniques_max_rel_error": round(max(errors, default=0.0), 4),
    }


async def our_counts(url: str, seeded: dict[str, Any]) -> dict[str, tuple[int, int]]:
    import httpx

    found: dict[str, tuple[int, int]] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for _, token in seeded["creators"]:
            r = await client.get("/api/me/links", headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()
            for link in r.json():
                found[link["code"]] = (link["clicks"], link["unique_visitors"])
    return found


async def purchases(
    url: str, seeded: dict[str, Any], links: list[dict[str, Any]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Every buyer follows a product link and buys 1-3 units of that product with the
    cookie it got. ``--buy-concurrency`` browser-like clients (cookies kept) take the
    buyers in turn: each click replaces the client's ``lc_attr`` before its buyer buys."""
    import httpx

    product_links = [link for link in links if link["target"] == "product"]
    by_id = {p[0]: p for p in seeded["products"]}
    done: list[dict[str, Any]] = []
    turns = iter(enumerate(seeded["buyers"]))

    async def browser() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            for i, (_, token) in turns:
                link = product_links[i % len(product_links)]
                product = by_id[link["product_id"]]
                quantity = 1 + i % 3
                r = await client.get(link["url"])
                if r.status_code != 302 or "lc_attr" not in r.cookies:
                    raise RuntimeError(f"click {i}: {r.status_code} {r.text}")
                r = await client.post(
                    "/api/buy",
                    json={
                        "product_id": product[0],
                        "variant_id": product[1],
                        "quantity": quantity,
                    },
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Idempotency-Key": uuid.uuid4().hex,
                    },
                )
                if r.status_code != 201:
                    raise RuntimeError(f"purchase {i}: {r.status_code} {r.text}")
                done.append({"order": r.json(), "link": link, "product": product, "qty": quantity})

    await asyncio.gather(*(browser() for _ in range(args.buy_concurrency)))
    return done


async def check_commissions(
    database_url: str, seeded: dict[str, Any], bought: list[dict[str, Any]]
) -> dict[str, Any]:
    """Each order credited to its link's creator and link; each ledger entry exact."""
    from sqlalchemy import select

    from livecommerce.db.engine import Database
    from livecommerce.db.models import CommissionEntry, Order

    db = Database(database_url)
    ids = [b["order"]["id"] for b in bought]
    async with db.sessions() as s:
        orders = {
            o.id: (o.creator_id, o.link_id)
            for o in await s.scalars(select(Order).where(Order.id.in_(ids)))
        }
        ledger: dict[str, list[tuple[int, int, int]]] = {}
        for e in await s.scalars(select(CommissionEntry).where(CommissionEntry.order_id.in_(ids))):
            ledger.setdefault(e.order_id, []).append((e.creator_id, e.rate_bps, e.amount_minor))
    await db.dispose()
    wrong_credit = wrong_amount = 0
    expected_total = 0
    for b in bought:
        creator_id = seeded["creators"][b["link"]["creator"]][0]
        _, _, price, bps = b["product"]
        amount = price * b["qty"] * bps // 10_000
        expected_total += amount
        if orders.get(b["order"]["id"]) != (creator_id, b["link"]["id"]):
            wrong_credit += 1
        if ledger.get(b["order"]["id"]) != [(creator_id, bps, amount)]:
            wrong_amount += 1
    return {
        "attributed_orders": len(bought),
        "orders_in_sql": len(orders),
        "orders_wrongly_credited": wrong_credit,
        "commissions_wrong": wrong_amount,
        "commission_expected_minor": expected_total,
        "commission_in_ledger_minor": sum(a for rows in ledger.values() for _, _, a in rows),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=50_000)
    parser.add_argument("--links", type=int, default=1_000)
    parser.add_argument("--visitors", type=int, default=2_000)
    parser.add_argument("--buyers", type=int, default=2_000, help="attributed purchases")
    parser.add_argument("--creators", type=int, default=100)
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--servers", type=int, default=2, help="serve processes (each side)")
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes")
    parser.add_argument("--conns", type=int, default=8, help="connections per client")
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed (counted) clicks")
    parser.add_argument("--buy-concurrency", type=int, default=32)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--baseline-clicks",
        type=int,
        default=10_000,
        help="the baseline follows the first N clicks of the same plan (it is ~20x slower)",
    )
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    args.warmup = min(args.warmup, args.clicks // 5)

    with bench_scratch("links", args.database_url, log) as scratch:
        return run(args, scratch)


def run(args: argparse.Namespace, scratch: Scratch) -> int:
    """The clicks and purchases on our servers, then the baseline's clicks, in one
    scratch."""
    from scripts.links_baseline import counts, create_table

    workdir, database_url = scratch.workdir, scratch.database_url
    servers: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run(create_table(database_url))
        seeded = asyncio.run(seed(database_url, args))
        log(f"seeded {args.creators} creators, {args.products} products, {args.buyers} buyers")
        env = scratch.server_env(SECRET)
        python = sys.executable
        servers, urls = start_servers(
            [python, "-m", "livecommerce.cli", "serve", "--port"],
            args.servers,
            env,
            workdir,
            "serve",
        )
        links = asyncio.run(make_links(urls[0], seeded, args.links))
        log(f"made {len(links)} links through POST /api/links")
        rng = random.Random(13)
        visitors = [f"{rng.getrandbits(128):032x}" for _ in range(args.visitors)]
        plan = [
            (links[rng.randrange(len(links))]["code"], visitors[rng.randrange(len(visitors))])
            for _ in range(args.clicks)
        ]
        expected = expected_counts(plan)
        ours = click_side("ours", urls, servers, plan, args)
        ours["counts"] = compare(expected, asyncio.run(our_counts(urls[0], seeded)))
        log(f"ours: counts {encoding.dumps(ours['counts']).decode()}")
        log(f"purchases: {args.buyers} buyers follow a link and buy")
        t0 = time.time()
        bought = asyncio.run(purchases(urls[0], seeded, links, args))
        buy_s = time.time() - t0
        ours["purchases"] = asyncio.run(check_commissions(database_url, seeded, bought))
        ours["purchases"]["wall_s"] = round(buy_s, 2)
        log(f"purchases: {encoding.dumps(ours['purchases']).decode()}")
        stop_servers(servers)
        servers = []
        result: dict[str, Any] = {
            "links": args.links,
            "visitors": args.visitors,
            "servers": args.servers,
            "clients": args.clients,
            "conns_per_client": args.conns,
            **ours,
        }
        if not args.no_baseline:
            servers, urls = start_servers(
                [python, "-m", "scripts.links_baseline", database_url],
                args.servers,
                env,
                workdir,
                "baseline",
                cwd=ROOT,
            )
            base_plan = plan[: args.baseline_clicks]
            base = click_side("baseline", urls, servers, base_plan, args)
            stop_servers(servers)
            servers = []
            by_id = {link["id"]: link["code"] for link in links}
            found = {by_id[k]: v for k, v in asyncio.run(counts(database_url)).items()}
            base["counts"] = compare(expected_counts(base_plan), found)
            result["baseline"] = base
            result["throughput_ratio"] = (
                round(ours["clicks_per_s"] / base["clicks_per_s"], 2)
                if base["clicks_per_s"]
                else None
            )
            # per click: the baseline follows fewer clicks than ours
            result["cpu_cost_ratio"] = (
                round(base["server_cpu_ms_per_click"] / ours["server_cpu_ms_per_click"], 2)
                if ours["server_cpu_ms_per_click"] and base["server_cpu_ms_per_click"]
                else None
            )
        print(encoding.dumps(result).decode(), flush=True)
        return 0
    finally:
        stop_servers(servers)


if __name__ == "__main__":
    sys.exit(main())
