"""open invoices index: the open balances of every customer without reading every invoice

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:45:00.000000

A customer's view (``GET /v1/customers/{id}``) weighs its open balance against the median
open balance of all customers. Summing those read the whole invoices table: 0.8 s for each
request on a ledger of a million invoices. A partial index of the open invoices, holding the
columns the sums read, answers it in 7.5 ms there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not in a batch: on SQLite that may copy the table, and its triggers (0004) with it.
    op.create_index(
        "ix_invoices_open",
        "invoices",
        ["customer_id", "amount", "is_credit_note"],
        unique=False,
        sqlite_where=sa.text("settled_date IS NULL"),
        postgresql_where=sa.text("settled_date IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_open", table_name="invoices")
