"""The marketplace: products open to one creator, with the rate they would earn.

"Open to a creator": an open collaboration in force now, or a targeted offer the creator
accepted that applies now. Two reads, merged: the open collaborations (one keyset scan
over an index chosen by the sort: ``products.id``, ``(price_minor, id)`` or
``collaborations (rate_bps, product_id)``, filters checked as it goes, text through
``product_terms``' primary key) and the creator's own accepted offers (few). The cursor
is the last item's sort key and id, so a page costs the same at any depth.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, and_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce import encoding
from livecommerce.creators.rates import offer_rates_at
from livecommerce.db.models import Collaboration, Product, ProductTerm, name_terms
from livecommerce.errors import ValidationFailed

__all__ = ["Listing", "Search", "Sort", "decode_cursor", "encode_cursor", "search"]

Sort = Literal["newest", "price_asc", "price_desc", "rate_desc"]
#: Past this, a word's prefix would be every term: words are cut to it.
_MAX_WORDS = 5


@dataclass(frozen=True)
class Search:
    q: str | None = None
    brand_id: int | None = None
    category: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    min_rate: int | None = None
    sort: Sort = "newest"
    #: ``(sort key, product id)`` of the last item of the previous page.
    after: tuple[int, int] | None = None
    limit: int = 20


@dataclass(frozen=True)
class Listing:
    product: Product
    rate_bps: int
    #: True: the rate is the creator's accepted targeted offer.
    targeted: bool


def encode_cursor(sort: Sort, listing: Listing) -> str:
    raw = encoding.dumps([sort, _key(sort, listing), listing.product.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str) -> tuple[int, int]:
    """The ``after`` of a cursor made for ``sort`` (422 naming ``cursor`` otherwise)."""
    try:
        data = encoding.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, encoding.JSONDecodeError):
        data = None
    if (
        isinstance(data, list)
        and len(data) == 3
        and data[0] == sort
        and all(type(v) is int and 0 <= v < 2**63 for v in data[1:])
    ):
        return data[1], data[2]
    message = "is not a cursor this search gave (a different sort, or changed)"
    raise ValidationFailed(
        f"cursor: {message}",
        errors=[{"loc": ["query", "cursor"], "msg": message, "type": "bad_cursor"}],
    )


def _key(sort: Sort, listing: Listing) -> int:
    if sort == "newest":
        return listing.product.id
    if sort == "rate_desc":
        return listing.rate_bps
    return listing.product.price_minor


def _descending(sort: Sort) -> bool:
    return sort != "price_asc"


def _product_filters(s: Search) -> list[Any]:
    where: list[Any] = [Product.is_active.is_(True)]
    if s.brand_id is not None:
        where.append(Product.brand_id == s.brand_id)
    if s.category is not None:
        where.append(Product.category == s.category)
    if s.min_price is not None:
        where.append(Product.price_minor >= s.min_price)
    if s.max_price is not None:
        where.append(Product.price_minor <= s.max_price)
    for word in name_terms(s.q or "")[:_MAX_WORDS]:
        # Each word of the query starts some word of the name: one range of the index.
        terms = select(ProductTerm.product_id).where(
            ProductTerm.term >= word, ProductTerm.term < word + "\U0010ffff"
        )
        where.append(Product.id.in_(terms))
    return where


def _keyset(s: Search, key: Any, pid: Any) -> Any:
    if s.after is None:
        return None
    k, i = s.after
    if s.sort == "newest":
        # On both sides of the join, so a merge join seeks both indexes to the cursor.
        return and_(Product.id < i, Collaboration.product_id < i)
    if _descending(s.sort):
        return tuple_(key, pid) < tuple_(k, i)
    return tuple_(key, pid) > tuple_(k, i)


async def _open_page(db: AsyncSession, s: Search, exclude: Sequence[int]) -> list[Listing]:
    key = {
        "newest": Product.id,
        "price_asc": Product.price_minor,
        "price_desc": Product.price_minor,
        "rate_desc": Collaboration.rate_bps,
    }[s.sort]
    pid = Collaboration.product_id if s.sort == "rate_desc" else Product.id
    query: Select[Product, int] = (
        select(Product, Collaboration.rate_bps)
        .join(Collaboration, Collaboration.product_id == Product.id)
        .where(*_product_filters(s))
    )
    if s.min_rate is not None:
        query = query.where(Collaboration.rate_bps >= s.min_rate)
    if exclude:
        query = query.where(Product.id.not_in(exclude))
    keyset = _keyset(s, key, pid)
    if keyset is not None:
        query = query.where(keyset)
    if s.sort == "newest":
        order = [pid.desc()]
    elif _descending(s.sort):
        order = [key.desc(), pid.desc()]
    else:
        order = [key.asc(), pid.asc()]
    rows = await db.execute(query.order_by(*order).limit(s.limit + 1))
    return [Listing(p, rate, targeted=False) for p, rate in rows]


async def _offer_page(db: AsyncSession, s: Search, offers: dict[int, int]) -> list[Listing]:
    if not offers:
        return []
    rows = await db.execute(
        select(Product, Collaboration.rate_bps)
        .outerjoin(Collaboration, Collaboration.product_id == Product.id)
        .where(Product.id.in_(offers), *_product_filters(s))
    )
    found = []
    for product, open_rate in rows:
        rate = max(offers[product.id], open_rate or 0)
        if s.min_rate is None or rate >= s.min_rate:
            found.append(Listing(product, rate, targeted=offers[product.id] >= (open_rate or 0)))
    return found


def _after(s: Search, listing: Listing) -> bool:
    if s.after is None:
        return True
    here = (_key(s.sort, listing), listing.product.id)
    return here < s.after if _descending(s.sort) else here > s.after


async def search(
    db: AsyncSession, creator_id: int, s: Search, *, now: datetime
) -> tuple[list[Listing], bool]:
    """One page of listings for ``creator_id`` and whether more follow."""
    offers = await offer_rates_at(db, creator_id, None, now)
    listings = await _open_page(db, s, sorted(offers))
    listings += [x for x in await _offer_page(db, s, offers) if _after(s, x)]
    desc = _descending(s.sort)
    listings.sort(key=lambda x: (_key(s.sort, x), x.product.id), reverse=desc)
    return listings[: s.limit], len(listings) > s.limit
