"""issued revisions: the revision steps the scoring service's own invoices made

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 05:10:00.000000

A server storing invoices at issuance records, in the same transaction, the step it raised
each customer's ``ledger_revision`` by, and the first day those invoices count in features.
Every server process then tells the steps of all of them (and of itself) from any other
change, so several processes can each keep a ledger snapshot current.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issued_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("revision_before", sa.Integer(), nullable=False),
        sa.Column("revision_after", sa.Integer(), nullable=False),
        sa.Column("counts_from", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_revisions")),
    )
    with op.batch_alter_table("issued_revisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_issued_revisions_customer_after", ["customer_id", "revision_after"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_issued_revisions_recorded_at"), ["recorded_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("issued_revisions")
