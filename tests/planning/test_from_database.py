"""The forecast and the receivables read from a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.config import Settings
from latepay.db.tables import Customer, Invoice, Payment, Prediction
from latepay.planning.forecast import build_forecast
from latepay.planning.receivables import NO_CURRENCY, load_receivables, receivables_snapshot

AS_OF = dt.date(2024, 6, 3)  # a Monday


def _add(engine: Engine) -> None:
    def moment(day: dt.date, hour: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)

    def score(invoice_id: str, on_time: float, made: dt.datetime) -> dict:
        return {
            "invoice_id": invoice_id,
            "model_version": "test",
            "as_of": made,
            "scored_at": made,
            "inputs_hash": "x",
            "p_late": 1 - on_time,
            "bucket_probabilities": {
                "on_time": on_time,
                "late_1_30": 1 - on_time,
                "late_31_plus": 0.0,
            },
            "expected_days_late": 1.5 * (1 - on_time),
            "risk_tier": "low",
        }

    invoice = {
        "customer_id": "C1",
        "issue_date": dt.date(2024, 5, 1),
        "settled_date": None,
        "row_hash": "x",
    }
    with engine.begin() as connection:
        connection.execute(sa.insert(Customer).values(customer_id="C1", row_hash="x"))
        connection.execute(
            sa.insert(Invoice),
            [
                # Paid on its due date: on-time invoices are paid on their due date.
                {**invoice, "invoice_id": "OLD", "due_date": dt.date(2024, 5, 10),
                 "amount": 10.0, "currency": "EUR", "settled_date": dt.date(2024, 5, 10)},
                {**invoice, "invoice_id": "A", "due_date": dt.date(2024, 6, 12),
                 "amount": 1000.0, "currency": "EUR"},
                {**invoice, "invoice_id": "B", "due_date": dt.date(2024, 6, 5),
                 "amount": 80.0, "currency": None},
            ],
        )  # fmt: skip
        connection.execute(
            sa.insert(Payment).values(
                payment_id="P1",
                invoice_id="A",
                paid_date=dt.date(2024, 5, 20),
                amount=250.0,
                row_hash="x",
            )
        )
        connection.execute(
            sa.insert(Prediction),
            [
                score("A", 0.0, moment(dt.date(2024, 5, 1))),
                # The newest score made by AS_OF: on time for sure.
                score("A", 1.0, moment(dt.date(2024, 5, 2), 9)),
                # Made after AS_OF: does not count.
                score("A", 0.0, moment(dt.date(2024, 6, 4))),
            ],
        )


def test_the_forecast_reads_the_newest_score_made_by_the_day(engine: Engine) -> None:
    _add(engine)
    forecast = build_forecast(engine, as_of=AS_OF, settings=Settings(), weeks=3, simulations=50)
    parts = {part.currency: part for part in forecast.currencies}
    assert sorted(parts) == ["EUR", NO_CURRENCY]
    eur = parts["EUR"]
    # A: 1000 less the 250 paid, on time for sure, due in week 2 (06-10 to 06-16).
    assert [w.expected for w in eur.total.weeks] == pytest.approx([0, 750, 0])
    assert eur.unpredicted_invoices == 0
    # B was never scored: its customer paid on time, so on its due date, in week 1.
    unscored = parts[NO_CURRENCY]
    assert unscored.unpredicted_invoices == 1 and unscored.unpredicted_amount == 80
    assert [w.expected for w in unscored.total.weeks] == pytest.approx([80, 0, 0])


def test_receivables_come_from_the_database_with_their_payments(engine: Engine) -> None:
    _add(engine)
    invoices, payments = load_receivables(engine)
    snapshot = receivables_snapshot(invoices, dt.date(2024, 5, 31), payments=payments)
    assert snapshot.receivables == 750 + 80
    assert snapshot.aging["current"] == 830
    assert snapshot.credit_sales == 1090  # all three issued 05-01, within 90 days
