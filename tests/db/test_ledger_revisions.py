"""Database triggers raise a customer's ledger revision whenever what its features read changes."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import Engine
from tests.features.test_ledger_load import store_ledger

from latepay.db.tables import (
    Customer,
    Dispute,
    EconomicIndicator,
    Interaction,
    Invoice,
    LedgerRevision,
    Outcome,
)

DAY = dt.date(2024, 3, 1)


def revisions(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        customers = dict(
            connection.execute(sa.select(Customer.customer_id, Customer.ledger_revision)).all()
        )
        shared = connection.scalar(sa.select(LedgerRevision.revision))
    return {**customers, "": shared}


def raised_by(engine: Engine, *statements: sa.Executable) -> set[str]:
    """Whose revisions rose over ``statements`` (run in one transaction); '' is the shared one.

    By how much is not promised: SQLite raises once per row, PostgreSQL once per statement.
    """
    before = revisions(engine)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)
    after = revisions(engine)
    assert all(after[key] >= before.get(key, 0) for key in after)
    return {key for key in after if after[key] != before.get(key, 0)}


def test_each_change_features_read_raises_its_customers_revision_and_nothing_else(
    engine: Engine,
) -> None:
    store_ledger(engine)
    invoice = {
        "customer_id": "C2",
        "issue_date": DAY,
        "due_date": DAY,
        "amount": 1,
        "row_hash": "n",
    }
    assert raised_by(engine, sa.insert(Invoice).values(invoice_id="I9", **invoice)) == {"C2"}
    assert raised_by(
        engine, sa.update(Invoice).where(Invoice.invoice_id == "I1").values(settled_date=DAY)
    ) == {"C1"}
    assert raised_by(
        engine, sa.update(Invoice).where(Invoice.invoice_id == "I3").values(customer_id="C1")
    ) == {"C1", "C2"}
    assert raised_by(engine, sa.delete(Invoice).where(Invoice.invoice_id == "I9")) == {"C2"}
    assert raised_by(
        engine,
        sa.insert(Dispute).values(dispute_id="D2", customer_id="C2", opened_date=DAY, row_hash="d"),
    ) == {"C2"}
    assert raised_by(
        engine, sa.update(Interaction).where(Interaction.interaction_id == "X1").values(topic="x")
    ) == {"C1"}
    assert raised_by(
        engine,
        sa.insert(Outcome).values(invoice_id="I3", kind="promise_to_pay", promised_date=DAY),
    ) == {"C1"}
    assert raised_by(
        engine, sa.update(Customer).where(Customer.customer_id == "C2").values(industry="energy")
    ) == {"C2"}
    assert raised_by(
        engine,
        sa.update(Customer).where(Customer.customer_id == "C2").values(extra={"tier": "new"}),
    ) == {"C2"}
    # Not read by features: no revision moves.
    assert (
        raised_by(
            engine, sa.update(Customer).where(Customer.customer_id == "C2").values(name="Acme")
        )
        == set()
    )


def test_indicators_and_deleted_customers_raise_the_shared_revision(engine: Engine) -> None:
    store_ledger(engine)
    indicator = {"name": "activity", "key": "", "period": DAY.replace(month=4), "value": 1}
    assert raised_by(engine, sa.insert(EconomicIndicator).values(row_hash="e", **indicator)) == {""}
    assert raised_by(engine, sa.update(EconomicIndicator).values(value=2)) == {""}
    with engine.begin() as connection:
        connection.execute(sa.insert(Customer).values(customer_id="C3", row_hash="c3"))
    assert raised_by(engine, sa.delete(Customer).where(Customer.customer_id == "C3")) == {""}


def test_inserted_rows_raise_their_customers_revision_by_their_number(engine: Engine) -> None:
    """What the scoring service relies on to tell its own invoices from anyone else's."""
    store_ledger(engine)
    before = revisions(engine)
    rows = [
        {"invoice_id": f"N{i}", "customer_id": customer, "issue_date": DAY, "due_date": DAY}
        for i, customer in enumerate(["C1", "C2", "C1", "C1"])
    ]
    with engine.begin() as connection:
        connection.execute(sa.insert(Invoice), [{**r, "amount": 1, "row_hash": "n"} for r in rows])
    after = revisions(engine)
    assert (after["C1"] - before["C1"], after["C2"] - before["C2"]) == (3, 1)
