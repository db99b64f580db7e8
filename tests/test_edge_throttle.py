"""Sign-in and sign-up throttles (429 with Retry-After) against a real server: per
account and per client address, a lock that expires, and an unknown e-mail that costs
what a known one costs (no user enumeration)."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest

from livecommerce.settings import Settings
from tests.support import Actors, ServerThread, random_address, seconds, unique

PASSWORD = "correct horse battery"

pytestmark = pytest.mark.usefixtures("no_server_errors")


async def _login(
    client: httpx.AsyncClient, email: str, password: str, address: str
) -> httpx.Response:
    return await client.post(
        "/api/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
    )


async def test_wrong_passwords_lock_the_account_then_the_lock_expires(
    edge: ServerThread, settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=edge.url, timeout=30) as client:
        email = f"{unique('victim')}@test.livecommerce.dev"
        r = await client.post(
            "/api/auth/signup",
            json={"email": email, "password": PASSWORD, "display_name": "v"},
            headers={"X-Forwarded-For": random_address()},
        )
        assert r.status_code == 201, r.text
        # Each guess from an address of its own: the account's window is what stops them.
        statuses = [
            (await _login(client, email, f"guess-{i}", random_address())).status_code
            for i in range(8)
        ]
        assert statuses[:5] == [401] * 5
        assert statuses[5:] == [429] * 3
        r = await _login(client, email, PASSWORD, random_address())
        assert r.status_code == 429
        problem = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert problem["code"] == "rate_limited"
        retry_after = int(r.headers["retry-after"])
        assert 1 <= retry_after <= 2
        # Not locked for good: after Retry-After the owner signs in.
        deadline = time.monotonic() + seconds(retry_after + 5)
        while True:
            await asyncio.sleep(retry_after)
            r = await _login(client, email, PASSWORD, random_address())
            if r.status_code == 200 or time.monotonic() > deadline:
                break
        assert r.status_code == 200, r.text


async def test_unknown_email_is_throttled_like_a_known_one(client: httpx.AsyncClient) -> None:
    email = f"{unique('ghost')}@test.livecommerce.dev"
    statuses = [
        (await _login(client, email, "guess", random_address())).status_code for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]


async def test_one_address_is_throttled_across_accounts(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    address = random_address()
    statuses = [
        (await _login(client, f"{unique('s')}@example.com", "guess", address)).status_code
        for _ in range(settings.auth_address_attempts + 1)
    ]
    assert statuses == [401] * settings.auth_address_attempts + [429]


async def test_signups_are_throttled_per_address(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    address = random_address()
    statuses = []
    for _ in range(settings.auth_signup_attempts + 1):
        r = await client.post(
            "/api/auth/signup",
            json={
                "email": f"{unique('bot')}@example.com",
                "password": PASSWORD,
                "display_name": "bot",
            },
            headers={"X-Forwarded-For": address},
        )
        statuses.append(r.status_code)
    assert statuses == [201] * settings.auth_signup_attempts + [429]
    assert int(r.headers["retry-after"]) >= 1


async def test_unknown_email_costs_what_a_known_one_costs(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    known = await actors.user("viewer")

    async def timed(email: str) -> float:
        started = time.perf_counter()
        r = await _login(client, email, "wrong password", random_address())
        assert r.status_code == 401
        return time.perf_counter() - started

    known_times, unknown_times = [], []
    for _ in range(4):  # under the account's window
        known_times.append(await timed(known["email"]))
        unknown_times.append(await timed(f"{unique('nobody')}@example.com"))
    ratio = statistics.median(unknown_times) / statistics.median(known_times)
    # Both verify an argon2 hash (tens of ms); a skipped hash would be ~10x faster.
    assert 0.5 < ratio < 2, (known_times, unknown_times)
