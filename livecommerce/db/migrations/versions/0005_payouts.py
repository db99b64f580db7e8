"""commission lifecycle and payouts

Each ledger entry gets a ``status`` (pending, paid, reversed), a ``payable_at`` and the
``payout_id`` that claimed it; ``payouts`` holds one transfer per creator and currency.
Existing entries: an order's entries that were reversed become ``reversed``; the others
stay ``pending`` and are payable 30 days (the default return window at the time of
writing) after they were earned.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 07:00:00
"""

from __future__ import annotations

from datetime import UTC, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WINDOW = timedelta(days=30)


def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("creator_id", _ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("transfer_id", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_payouts_creator_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
    )
    op.create_index(op.f("ix_payouts_creator_id"), "payouts", ["creator_id"], unique=False)
    with op.batch_alter_table("commission_ledger", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="pending")
        )
        batch_op.add_column(sa.Column("payable_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("payout_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_commission_ledger_payout_id_payouts"), "payouts", ["payout_id"], ["id"]
        )
        batch_op.create_index(op.f("ix_commission_ledger_payout_id"), ["payout_id"], unique=False)
        batch_op.create_index(
            "ix_commission_ledger_status_payable_at", ["status", "payable_at"], unique=False
        )
    bind = op.get_bind()
    ledger = sa.table(
        "commission_ledger",
        sa.column("id", _ID),
        sa.column("order_id", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("status", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("payable_at", sa.DateTime(timezone=True)),
    )
    reversed_orders = sa.select(ledger.c.order_id).where(ledger.c.kind == "reversed")
    bind.execute(
        ledger.update()
        .where(ledger.c.order_id.in_(reversed_orders.scalar_subquery()))
        .values(status="reversed")
    )
    for entry_id, created_at in bind.execute(sa.select(ledger.c.id, ledger.c.created_at)).all():
        when = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
        bind.execute(
            ledger.update().where(ledger.c.id == entry_id).values(payable_at=when + _WINDOW)
        )
    with op.batch_alter_table("commission_ledger", schema=None) as batch_op:
        batch_op.alter_column(
            "payable_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("commission_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_commission_ledger_status_payable_at")
        batch_op.drop_index(op.f("ix_commission_ledger_payout_id"))
        batch_op.drop_constraint(op.f("fk_commission_ledger_payout_id_payouts"), type_="foreignkey")
        batch_op.drop_column("payout_id")
        batch_op.drop_column("payable_at")
        batch_op.drop_column("status")
    op.drop_index(op.f("ix_payouts_creator_id"), table_name="payouts")
    op.drop_table("payouts")
