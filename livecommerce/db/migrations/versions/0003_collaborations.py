"""collaborations, showcases and the marketplace's indexes

Products get a ``category`` and their name's words in ``product_terms`` (the text
search's index; existing products' words are written here); open collaborations
(``collaborations``, their rate history ``collab_rates``), targeted offers
(``collab_offers``), creators' showcases (``showcase_items``), and the indexes the
marketplace's keyset scans use.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 07:00:00
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)
_WORD = re.compile(r"\w+")


def _terms(name: str) -> list[str]:
    # A copy of livecommerce.db.models.name_terms as written (a migration must not
    # change when the app's code does).
    return list(dict.fromkeys(w[:64] for w in _WORD.findall(name.casefold())))[:32]


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("category", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.create_index("ix_products_brand_id_id", ["brand_id", "id"], unique=False)
        batch_op.create_index("ix_products_category_id", ["category", "id"], unique=False)
        batch_op.create_index("ix_products_price_id", ["price_minor", "id"], unique=False)

    op.create_table(
        "product_terms",
        sa.Column(
            "term",
            sa.String(length=64).with_variant(sa.String(64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("product_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_terms_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("term", "product_id", name=op.f("pk_product_terms")),
    )
    op.create_index(
        op.f("ix_product_terms_product_id"), "product_terms", ["product_id"], unique=False
    )
    conn = op.get_bind()
    products = sa.table("products", sa.column("id", _ID), sa.column("name", sa.String))
    terms = sa.table("product_terms", sa.column("term", sa.String), sa.column("product_id", _ID))
    rows = [
        {"term": t, "product_id": pid}
        for pid, name in conn.execute(sa.select(products.c.id, products.c.name))
        for t in _terms(name)
    ]
    if rows:
        conn.execute(sa.insert(terms), rows)

    op.create_table(
        "collaborations",
        sa.Column("product_id", _ID, nullable=False),
        sa.Column("brand_id", _ID, nullable=False),
        sa.Column("rate_bps", sa.Integer(), nullable=False),
        sa.Column("pending_rate_bps", sa.Integer(), nullable=True),
        sa.Column("pending_from", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_collaborations_brand_id_brands")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_collaborations_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_collaborations")),
    )
    op.create_index(
        op.f("ix_collaborations_brand_id"), "collaborations", ["brand_id"], unique=False
    )
    op.create_index(
        op.f("ix_collaborations_pending_from"), "collaborations", ["pending_from"], unique=False
    )
    op.create_index(
        "ix_collaborations_rate", "collaborations", ["rate_bps", "product_id"], unique=False
    )

    op.create_table(
        "collab_rates",
        sa.Column("id", _ID, nullable=False),
        sa.Column("product_id", _ID, nullable=False),
        sa.Column("rate_bps", sa.Integer(), nullable=True),
        sa.Column("effective_from", _TIME, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_collab_rates_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collab_rates")),
    )
    op.create_index(
        "ix_collab_rates_product_from",
        "collab_rates",
        ["product_id", "effective_from"],
        unique=False,
    )

    op.create_table(
        "collab_offers",
        sa.Column("id", _ID, nullable=False),
        sa.Column("product_id", _ID, nullable=False),
        sa.Column("brand_id", _ID, nullable=False),
        sa.Column("creator_id", _ID, nullable=False),
        sa.Column("rate_bps", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("responded_at", _TIME, nullable=True),
        sa.Column("ends_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_collab_offers_brand_id_brands")
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_collab_offers_creator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_collab_offers_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collab_offers")),
    )
    op.create_index(op.f("ix_collab_offers_brand_id"), "collab_offers", ["brand_id"], unique=False)
    op.create_index(
        op.f("ix_collab_offers_product_id"), "collab_offers", ["product_id"], unique=False
    )
    op.create_index(
        "ix_collab_offers_creator", "collab_offers", ["creator_id", "status"], unique=False
    )

    op.create_table(
        "showcase_items",
        sa.Column("id", _ID, nullable=False),
        sa.Column("creator_id", _ID, nullable=False),
        sa.Column("product_id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["users.id"],
            name=op.f("fk_showcase_items_creator_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_showcase_items_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_showcase_items")),
        sa.UniqueConstraint("creator_id", "product_id", name=op.f("uq_showcase_items_creator_id")),
    )
    op.create_index(
        op.f("ix_showcase_items_product_id"), "showcase_items", ["product_id"], unique=False
    )
    op.create_index(
        "ix_showcase_items_creator_position",
        "showcase_items",
        ["creator_id", "position"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("showcase_items")
    op.drop_table("collab_offers")
    op.drop_table("collab_rates")
    op.drop_table("collaborations")
    op.drop_table("product_terms")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_price_id")
        batch_op.drop_index("ix_products_category_id")
        batch_op.drop_index("ix_products_brand_id_id")
        batch_op.drop_column("category")
