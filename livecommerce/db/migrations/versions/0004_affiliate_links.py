"""affiliate share links and order attribution

Users get a unique ``handle`` (existing hosts get one made from their display name,
as sign-up does: livecommerce.accounts.handles); ``affiliate_links`` holds the creators'
short links; an order records the ``link_id`` its attribution came from.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 07:00:00
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# A copy of the rules at the time of writing (a migration must not change when the
# app's code does): livecommerce.accounts.handles.
_RESERVED = {
    "account", "admin", "administrator", "api", "brand", "earnings", "help", "host",
    "livecommerce", "login", "logout", "marketplace", "me", "moderate", "null", "orders",
    "root", "security", "settings", "signup", "static", "studio", "support", "system",
    "undefined", "watch", "www",
}  # fmt: skip


# Letters NFKD does not take apart into an ASCII letter and a mark.
_LETTERS = str.maketrans(
    {"ı": "i", "İ": "I", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe",
     "Œ": "OE", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH"}
)  # fmt: skip


def _suggest(display_name: str) -> str:
    folded = display_name.translate(_LETTERS)
    ascii_name = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")[:24].strip("_")
    if len(base) < 3 or base in _RESERVED:
        base = f"creator_{base}".strip("_") if base else "creator"
    return base[:24]


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handle", sa.String(length=30), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_users_handle"), ["handle"])

    conn = op.get_bind()
    users = sa.table(
        "users",
        sa.column("id", _ID),
        sa.column("display_name", sa.String),
        sa.column("role", sa.String),
        sa.column("handle", sa.String),
    )
    taken: set[str] = set()
    hosts = conn.execute(
        sa.select(users.c.id, users.c.display_name)
        .where(users.c.role == "host", users.c.handle.is_(None))
        .order_by(users.c.id)
    ).all()
    for user_id, display_name in hosts:
        base = _suggest(display_name)
        handle, n = base, 2
        while handle in taken:
            handle, n = f"{base}_{n}", n + 1
        taken.add(handle)
        conn.execute(sa.update(users).where(users.c.id == user_id).values(handle=handle))

    op.create_table(
        "affiliate_links",
        sa.Column("id", _ID, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("creator_id", _ID, nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("product_id", _ID, nullable=True),
        sa.Column("session_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_affiliate_links_creator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_affiliate_links_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["live_sessions.id"],
            name=op.f("fk_affiliate_links_session_id_live_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliate_links")),
        sa.UniqueConstraint("code", name=op.f("uq_affiliate_links_code")),
    )
    with op.batch_alter_table("affiliate_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_affiliate_links_creator_id"), ["creator_id"], unique=False
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_id", _ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_link_id_affiliate_links"),
            "affiliate_links",
            ["link_id"],
            ["id"],
        )
        batch_op.create_index(batch_op.f("ix_orders_link_id"), ["link_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_link_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_orders_link_id_affiliate_links"), type_="foreignkey"
        )
        batch_op.drop_column("link_id")
    with op.batch_alter_table("affiliate_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_affiliate_links_creator_id"))
    op.drop_table("affiliate_links")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_handle"), type_="unique")
        batch_op.drop_column("handle")
