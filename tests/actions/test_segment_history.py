"""Segment history: a row when a customer's segment or strategy changes, none otherwise."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.actions.conftest import AS_OF, add_customer, add_invoice

from latepay.actions.segment_history import record_segment_changes, segment_history
from latepay.config import Settings
from latepay.db.tables import Prediction


def score(engine: Engine, invoice_id: str, p_late: float, *, as_of: dt.date = AS_OF) -> None:
    moment = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Prediction).values(
                invoice_id=invoice_id,
                model_version="test",
                as_of=moment,
                inputs_hash="x",
                p_late=p_late,
                bucket_probabilities={},
                expected_days_late=0.0,
                risk_tier="medium",
            )
        )


@pytest.fixture
def scored(engine: Engine) -> Engine:
    """C1 owes 1000 at P(late) 0.1 and paid its one past invoice on time; C2 owes 2000 at 0.9
    and paid its past invoice late.

    Risk scores: C1 (0.1 + 0) / 2 = 0.05, reliable; C2 (0.9 + 1) / 2 = 0.95, critical. Median
    open balance 1500: C2 is high value, C1 low. So C1 is automated and C2 escalated.
    """
    past_due = AS_OF - dt.timedelta(days=40)
    for customer_id, days_late in (("C1", -1), ("C2", 5)):
        add_customer(engine, customer_id)
        add_invoice(
            engine,
            f"PAST-{customer_id}",
            customer_id,
            due=past_due,
            settled=past_due + dt.timedelta(days=days_late),
        )
    add_invoice(engine, "INV1", "C1", due=AS_OF + dt.timedelta(days=10), amount=1000)
    add_invoice(engine, "INV2", "C2", due=AS_OF + dt.timedelta(days=10), amount=2000)
    score(engine, "INV1", 0.1)
    score(engine, "INV2", 0.9)
    return engine


def history(engine: Engine, customer_id: str) -> list[tuple]:
    with engine.connect() as connection:
        return [
            (row["segment"], row["strategy"], row["mean_p_late"], row["open_balance"])
            for row in segment_history(connection, customer_id)
        ]


def test_only_changes_are_recorded(scored: Engine) -> None:
    settings = Settings()
    first = record_segment_changes(scored, settings, as_of=AS_OF)
    assert (first.customers, first.changed) == (2, 2)
    assert history(scored, "C1") == [("reliable", "automate", 0.1, 1000.0)]
    assert history(scored, "C2") == [("critical", "escalate", 0.9, 2000.0)]

    again = record_segment_changes(scored, settings, as_of=AS_OF)
    assert (again.customers, again.changed) == (2, 0)

    # A rescore moves C1 to (0.6 + 0) / 2 = 0.3: watch, still low value, so still automated.
    score(scored, "INV1", 0.6)
    third = record_segment_changes(scored, settings, as_of=AS_OF)
    assert third.changed == 1
    assert history(scored, "C1") == [
        ("reliable", "automate", 0.1, 1000.0),
        ("watch", "automate", 0.6, 1000.0),
    ]
    assert len(history(scored, "C2")) == 1


def test_a_strategy_change_alone_is_recorded(scored: Engine) -> None:
    settings = Settings()
    record_segment_changes(scored, settings, as_of=AS_OF)
    # C1 now owes 3000 more at 0.1: open balance 4000 > median (3000), so high value.
    add_invoice(scored, "INV3", "C1", due=AS_OF + dt.timedelta(days=10), amount=3000)
    score(scored, "INV3", 0.1)
    record_segment_changes(scored, settings, as_of=AS_OF)
    assert history(scored, "C1") == [
        ("reliable", "automate", 0.1, 1000.0),
        ("reliable", "protect the relationship", 0.1, 4000.0),
    ]


def test_a_customer_without_a_segment_gets_no_row(scored: Engine) -> None:
    add_customer(scored, "C3")
    add_invoice(scored, "INV4", "C3", due=AS_OF + dt.timedelta(days=10))
    run = record_segment_changes(scored, Settings(), as_of=AS_OF)
    assert run.customers == 2
    assert history(scored, "C3") == []
