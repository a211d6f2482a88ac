"""A short description of what a database holds: counts, late rate, date range."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.tables import Customer, Invoice, Payment


@dataclass(frozen=True)
class LedgerSummary:
    customers: int
    invoices: int
    open_invoices: int
    settled_invoices: int
    late_invoices: int
    payments: int
    first_issue_date: dt.date | None
    last_issue_date: dt.date | None

    @property
    def late_rate(self) -> float | None:
        """Share of settled invoices settled after their due date (no grace days)."""
        return self.late_invoices / self.settled_invoices if self.settled_invoices else None

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["late_rate"] = self.late_rate
        for key in ("first_issue_date", "last_issue_date"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def summarize_ledger(engine: Engine) -> LedgerSummary:
    """Count what the database holds, in a few aggregate queries."""
    invoice = Invoice.__table__.c
    with engine.connect() as connection:
        customers = connection.scalar(sa.select(sa.func.count()).select_from(Customer))
        payments = connection.scalar(sa.select(sa.func.count()).select_from(Payment))
        row = connection.execute(
            sa.select(
                sa.func.count(),
                sa.func.count(invoice.settled_date),
                sa.func.sum(sa.case((invoice.settled_date > invoice.due_date, 1), else_=0)),
                sa.func.min(invoice.issue_date),
                sa.func.max(invoice.issue_date),
            )
        ).one()
    total, settled, late, first, last = row
    return LedgerSummary(
        customers=customers or 0,
        invoices=total or 0,
        open_invoices=(total or 0) - (settled or 0),
        settled_invoices=settled or 0,
        late_invoices=int(late or 0),
        payments=payments or 0,
        first_issue_date=first,
        last_issue_date=last,
    )
