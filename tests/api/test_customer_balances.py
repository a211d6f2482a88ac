"""The median open balance a customer's view weighs its own against: its value, and that the
database answers it from the open invoices alone (migration 0006)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.api.routes.customers import _median_open_balance
from latepay.db.tables import Customer, Invoice


def _ledger(engine: Engine) -> None:
    def invoice(number: int, customer: str, amount: float, **columns: object) -> dict:
        return {
            "invoice_id": f"I{number}",
            "customer_id": customer,
            "issue_date": dt.date(2024, 5, 1),
            "due_date": dt.date(2024, 5, 31),
            "amount": amount,
            "row_hash": "x",
            "is_credit_note": amount < 0,
            "settled_date": None,
            **columns,
        }

    with engine.begin() as connection:
        connection.execute(
            sa.insert(Customer), [{"customer_id": c, "row_hash": "x"} for c in "ABCDE"]
        )
        connection.execute(
            sa.insert(Invoice),
            [
                invoice(1, "A", 100.0),
                invoice(2, "A", 50.0),
                # Settled: not open.
                invoice(3, "A", 9_000.0, settled_date=dt.date(2024, 5, 20)),
                # A credit note does not lower an open balance.
                invoice(4, "B", 400.0),
                invoice(5, "B", -300.0),
                invoice(6, "C", 10.0),
                # Only settled invoices: no open balance, not counted.
                invoice(7, "D", 700.0, settled_date=dt.date(2024, 5, 2)),
            ],
        )


def test_the_median_open_balance_counts_open_invoices_of_customers_with_a_balance(
    engine: Engine,
) -> None:
    _ledger(engine)
    with engine.connect() as connection:
        # Open balances: A 150, B 400, C 10.
        assert _median_open_balance(connection) == pytest.approx(150.0)


def test_the_median_open_balance_reads_the_open_invoices_index(sqlite_engine: Engine) -> None:
    _ledger(sqlite_engine)
    statements: list[tuple[str, tuple]] = []

    def note(connection, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, parameters))

    sa.event.listen(sqlite_engine, "before_cursor_execute", note)
    with sqlite_engine.connect() as connection:
        _median_open_balance(connection)
    sa.event.remove(sqlite_engine, "before_cursor_execute", note)

    [(statement, parameters)] = statements
    with sqlite_engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    details = " ".join(str(row[-1]) for row in plan)
    # Not a scan of every invoice (by ix_invoices_customer_issue, before 0006).
    assert "USING INDEX ix_invoices_open" in details, details
