"""Reading the ledger from either database gives the same frames, typed alike."""

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.tables import Customer, Dispute, EconomicIndicator, Interaction, Invoice
from latepay.features import load_ledger


def store_ledger(engine: Engine) -> None:
    day = dt.date(2024, 3, 1)
    with engine.begin() as connection:

        def insert(table, rows: list[dict]) -> None:
            for row in rows:  # one at a time: the rows leave different columns out
                connection.execute(sa.insert(table), row)

        insert(
            Customer,
            [
                {
                    "customer_id": "C1",
                    "industry": "retail",
                    "credit_limit": 5000.5,
                    "payment_terms_days": 30,
                    "customer_since": dt.date(2020, 2, 29),
                    "extra": {"tier": "gold"},
                    "row_hash": "c1",
                },
                {"customer_id": "C2", "row_hash": "c2"},
            ],
        )
        insert(
            Invoice,
            [
                {
                    "invoice_id": "I1",
                    "customer_id": "C1",
                    "issue_date": day,
                    "due_date": day + dt.timedelta(days=30),
                    "amount": 1234.5678,
                    "currency": "EUR",
                    "settled_date": day + dt.timedelta(days=41),
                    "is_credit_note": False,
                    "extra": {"po": 1},
                    "row_hash": "i1",
                },
                {
                    "invoice_id": "I2",
                    "customer_id": "C1",
                    "issue_date": day,
                    "due_date": day,
                    "amount": -20,
                    "is_credit_note": True,
                    "row_hash": "i2",
                },
                {
                    "invoice_id": "I3",
                    "customer_id": "C2",
                    "issue_date": day,
                    "due_date": day,
                    "amount": 7,
                    "row_hash": "i3",
                },
            ],
        )
        insert(
            Dispute,
            [{"dispute_id": "D1", "customer_id": "C1", "opened_date": day, "row_hash": "d1"}],
        )
        insert(
            Interaction,
            [{"interaction_id": "X1", "customer_id": "C1", "date": day, "row_hash": "x1"}],
        )
        insert(
            EconomicIndicator,
            [{"name": "activity", "key": "", "period": day, "value": 98.25, "row_hash": "e1"}],
        )


def test_dates_amounts_and_flags_read_alike_from_every_database(engine: Engine) -> None:
    store_ledger(engine)
    ledger = load_ledger(engine, customer_ids=["C1"])
    invoices = ledger.invoices.sort_values("invoice_id").reset_index(drop=True)
    assert invoices["invoice_id"].tolist() == ["I1", "I2"]
    assert invoices["issue_date"].dtype == "datetime64[s]"
    assert invoices["settled_date"].tolist()[0] == pd.Timestamp("2024-04-11")
    assert pd.isna(invoices["settled_date"].tolist()[1])
    assert invoices["amount"].dtype == float
    assert invoices["amount"].tolist() == [1234.5678, -20.0]
    assert invoices["is_credit_note"].dtype == bool
    assert invoices["is_credit_note"].tolist() == [False, True]
    assert invoices["inv_po"].tolist()[0] == 1
    customer = ledger.customers.iloc[0]
    assert customer["customer_since"] == pd.Timestamp("2020-02-29")
    assert customer["credit_limit"] == 5000.5
    assert customer["cust_tier"] == "gold"
    assert ledger.disputes["opened_date"].tolist() == [pd.Timestamp("2024-03-01")]
    assert pd.isna(ledger.disputes["resolved_date"].iloc[0])
    assert ledger.interactions["date"].dtype == "datetime64[s]"
    assert ledger.indicators["period"].tolist() == [pd.Timestamp("2024-03-01")]
    assert np.isclose(ledger.indicators["value"].iloc[0], 98.25)
    assert ledger.as_of == pd.Timestamp("2024-04-12")
