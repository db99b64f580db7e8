"""SQL models: the system of record (DESIGN section 3).

Money is always an integer in minor units with an ISO 4217 currency; rates
are integer basis points. Times are timezone-aware UTC.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    delete,
    event,
    insert,
    inspect,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

__all__ = [
    "AffiliateLink",
    "Base",
    "Brand",
    "CollabOffer",
    "CollabRate",
    "Collaboration",
    "CommissionEntry",
    "LinkTarget",
    "LiveSession",
    "ModerationAction",
    "Order",
    "OrderItem",
    "OrderStatus",
    "Payment",
    "Payout",
    "PaymentMethod",
    "Pin",
    "Product",
    "ProductTerm",
    "Role",
    "SessionModerator",
    "SessionProduct",
    "SessionStatus",
    "ShowcaseItem",
    "User",
    "name_terms",
    "Variant",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns aware datetimes (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Role(enum.StrEnum):
    VIEWER = "viewer"
    HOST = "host"
    MODERATOR = "moderator"
    ADMIN = "admin"
    BRAND = "brand"


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    #: Deleted by its host, but orders, commissions, share links or the moderation audit
    #: still name it: the row stays for them and is a 404 everywhere else
    #: (``livecommerce.live.lifecycle.SessionLifecycle.delete``).
    DELETED = "deleted"


class LinkTarget(enum.StrEnum):
    """What an affiliate link points at."""

    PRODUCT = "product"
    SHOW = "show"
    SHOWCASE = "showcase"


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default=Role.VIEWER)
    #: For ``brand`` users: the brand whose catalog they manage.
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"), default=None)
    #: The saved shipping address used by one-tap checkout.
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The creator's public name in URLs (``/@<handle>``): livecommerce.accounts.handles.
    handle: Mapped[str | None] = mapped_column(String(30), unique=True, default=None)


class PaymentMethod(Base):
    """A saved payment method: a gateway token, never card data."""

    __tablename__ = "payment_methods"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    gateway: Mapped[str] = mapped_column(String(32))
    token: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Brand(Base):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    images: Mapped[list[Any]] = mapped_column(JSON, default=list)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    commission_bps: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: The marketplace's category filter ("" for none): lowercase letters, digits, dashes.
    category: Mapped[str] = mapped_column(String(64), default="")

    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", order_by="Variant.id", cascade="all, delete-orphan"
    )


class Variant(Base):
    """A buyable unit of a product (size, colour); stock is counted per variant."""

    __tablename__ = "variants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    #: Overrides the product price when set.
    price_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    stock_total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(back_populates="variants")


class LiveSession(Base):
    __tablename__ = "live_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.SCHEDULED, index=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionProduct(Base):
    """A product in a session's lineup (any brand's: no brand deal needed)."""

    __tablename__ = "session_products"
    __table_args__ = (UniqueConstraint("session_id", "product_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class SessionModerator(Base):
    __tablename__ = "session_moderators"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pin(Base):
    """Pin history: what was pinned when, with its offset into the stream for replays."""

    __tablename__ = "pins"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    pinned_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    flash_price_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    quantity_cap: Mapped[int | None] = mapped_column(Integer, default=None)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    pinned_at: Mapped[datetime] = mapped_column(default=utcnow)
    unpinned_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Milliseconds since the session went live (None if pinned before going live).
    offset_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class Order(Base):
    __tablename__ = "orders"

    #: Chosen by the checkout before the write (group commit needs ids up front).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.PENDING)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    #: The stock hold this order consumed: the reaper checks it before returning units.
    hold_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: When the buyer asked for a refund (``cart/returns.py``), and why; the brand or an
    #: admin then refunds it. The status is unchanged by the request.
    refund_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    refund_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    #: The affiliate link the buyer's attribution came from (None: a show or no link).
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("affiliate_links.id"), index=True, default=None
    )

    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    commission_bps: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="items")


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    gateway: Mapped[str] = mapped_column(String(32))
    #: The gateway's authorization id; unique so one authorization backs one payment.
    authorization_id: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CommissionEntry(Base):
    """The creator's earnings ledger: append-only; a refund appends a reversal."""

    __tablename__ = "commission_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("live_sessions.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    #: "earned" | "reversed" (a refund before the entry was paid out) | "adjustment"
    #: (a refund after: a negative amount carried into the next payout); cart/commissions.py
    kind: Mapped[str] = mapped_column(String(16))
    rate_bps: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Stored "pending" | "paid" | "reversed"; a pending entry is *payable* once
    #: ``payable_at`` (the order's time + RETURN_WINDOW_DAYS) has passed.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    payable_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The payout that claimed it (cart/payouts); set before the gateway is called.
    payout_id: Mapped[str | None] = mapped_column(
        ForeignKey("payouts.id"), index=True, default=None
    )

    __table_args__ = (Index("ix_commission_ledger_status_payable_at", "status", "payable_at"),)


class Payout(Base):
    """One transfer to a creator in one currency, of the entries that point at it."""

    __tablename__ = "payouts"

    #: Also the idempotency key sent to the payout gateway.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    entry_count: Mapped[int] = mapped_column(Integer)
    #: "processing" (claimed, the gateway not yet confirmed) | "paid"
    status: Mapped[str] = mapped_column(String(16), default="processing")
    gateway: Mapped[str] = mapped_column(String(32))
    transfer_id: Mapped[str | None] = mapped_column(String(120), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)


class AffiliateLink(Base):
    """A creator's short share link (``/l/<code>``) to a product, a show or the showcase."""

    __tablename__ = "affiliate_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    target: Mapped[str] = mapped_column(String(16))  # LinkTarget
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), default=None)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("live_sessions.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModerationAction(Base):
    """Audit log: who did what to whom, when."""

    __tablename__ = "moderation_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    target_message_id: Mapped[str | None] = mapped_column(String(64), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_orders_session_created", Order.session_id, Order.created_at)


# --- The creator economy: collaborations, showcases, the marketplace (livecommerce.creators)


class ProductTerm(Base):
    """One word of a product's name, casefolded: the marketplace's text search looks words
    up by prefix in this table's primary key (an index both databases use for ``q``).
    Written with the product's name by :func:`_write_terms` (any ORM insert or rename)."""

    __tablename__ = "product_terms"

    #: Byte order on PostgreSQL too ("C"), so a prefix is one range of the index.
    term: Mapped[str] = mapped_column(
        String(64).with_variant(String(64, collation="C"), "postgresql"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Collaboration(Base):
    """A product open to all creators: the rate in force now and a scheduled cut (a cut
    waits out the rate lock). The history that rates are computed from is ``CollabRate``;
    this row is its present, kept for the marketplace's indexes."""

    __tablename__ = "collaborations"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    rate_bps: Mapped[int] = mapped_column(Integer)
    #: The scheduled cut: its rate (0: the collaboration closes) and when it applies.
    pending_rate_bps: Mapped[int | None] = mapped_column(Integer, default=None)
    pending_from: Mapped[datetime | None] = mapped_column(default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CollabRate(Base):
    """The open rate's history: from ``effective_from`` on, attributions that begin earn
    ``rate_bps`` (None: the collaboration is closed)."""

    __tablename__ = "collab_rates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    rate_bps: Mapped[int | None] = mapped_column(Integer, default=None)
    effective_from: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CollabOffer(Base):
    """A targeted offer: a brand offers one creator a higher rate on one product."""

    __tablename__ = "collab_offers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    rate_bps: Mapped[int] = mapped_column(Integer)
    #: offered | accepted | declined | withdrawn
    status: Mapped[str] = mapped_column(String(16), default="offered")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(default=None)
    #: An accepted offer withdrawn by the brand still applies until then (the rate lock).
    ends_at: Mapped[datetime | None] = mapped_column(default=None)


class ShowcaseItem(Base):
    """A product in a creator's showcase, in the creator's order."""

    __tablename__ = "showcase_items"
    __table_args__ = (UniqueConstraint("creator_id", "product_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The marketplace's keyset scans: newest (id), price and rate orders, each filterable.
Index("ix_products_brand_id_id", Product.brand_id, Product.id)
Index("ix_products_category_id", Product.category, Product.id)
Index("ix_products_price_id", Product.price_minor, Product.id)
Index("ix_collaborations_rate", Collaboration.rate_bps, Collaboration.product_id)
Index("ix_collab_rates_product_from", CollabRate.product_id, CollabRate.effective_from)
Index("ix_collab_offers_creator", CollabOffer.creator_id, CollabOffer.status)
Index("ix_showcase_items_creator_position", ShowcaseItem.creator_id, ShowcaseItem.position)


_WORD = re.compile(r"\w+")


def name_terms(name: str) -> list[str]:
    """The words of a name as the marketplace searches them: casefolded, each once."""
    return list(dict.fromkeys(w[:64] for w in _WORD.findall(name.casefold())))[:32]


@event.listens_for(Product, "after_insert")
@event.listens_for(Product, "after_update")
def _write_terms(mapper: Mapper[Product], conn: Connection, product: Product) -> None:
    # In the product's own flush, so its words can never disagree with its name.
    if not inspect(product).attrs.name.history.has_changes():
        return
    conn.execute(delete(ProductTerm).where(ProductTerm.product_id == product.id))
    terms = name_terms(product.name)
    if terms:
        conn.execute(insert(ProductTerm), [{"term": t, "product_id": product.id} for t in terms])
