"""customer segment history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_segment_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("risk_score", sa.Float(), nullable=False),
        sa.Column("mean_p_late", sa.Float(), nullable=True),
        sa.Column("late_share", sa.Float(), nullable=True),
        sa.Column("settled", sa.Integer(), nullable=False),
        sa.Column("open_invoices", sa.Integer(), nullable=False),
        sa.Column("open_balance", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("high_value", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_customer_segment_history_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_segment_history")),
    )
    with op.batch_alter_table("customer_segment_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_segment_history_customer_id"), ["customer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_segment_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_segment_history_customer_id"))

    op.drop_table("customer_segment_history")
