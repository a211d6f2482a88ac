import datetime as dt

import pandas as pd
import sqlalchemy as sa

from latepay.db.frames import read_frame
from latepay.db.tables import Customer, Invoice, Prediction


def test_dates_and_moments_come_back_as_datetime64_on_every_back_end(engine):
    with engine.begin() as connection:
        connection.execute(sa.insert(Customer), [{"customer_id": "C", "row_hash": "h"}])
        connection.execute(
            sa.insert(Invoice),
            [
                {
                    "invoice_id": invoice_id,
                    "customer_id": "C",
                    "issue_date": dt.date(2024, 1, day),
                    "due_date": dt.date(2024, 2, day),
                    "amount": 10.0 * day,
                    "settled_date": settled,
                    "row_hash": "h",
                }
                for invoice_id, day, settled in (("I1", 1, dt.date(2024, 2, 5)), ("I2", 2, None))
            ],
        )
        connection.execute(
            sa.insert(Prediction),
            [
                {
                    "invoice_id": "I1",
                    "model_version": "m",
                    "as_of": dt.datetime(2024, 1, 1, 13, 30, tzinfo=dt.UTC),
                    "inputs_hash": "x",
                    "p_late": 0.25,
                    "bucket_probabilities": {},
                    "expected_days_late": 1.0,
                    "risk_tier": "low",
                }
            ],
        )
    with engine.connect() as connection:
        invoices = read_frame(
            connection,
            sa.select(
                Invoice.invoice_id, Invoice.due_date, Invoice.settled_date, Invoice.amount
            ).order_by(Invoice.invoice_id),
        )
        scores = read_frame(connection, sa.select(Prediction.as_of, Prediction.p_late))
    assert invoices["invoice_id"].tolist() == ["I1", "I2"]
    assert invoices["due_date"].tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-02-02")]
    assert invoices["settled_date"].iloc[0] == pd.Timestamp("2024-02-05")
    assert pd.isna(invoices["settled_date"].iloc[1])
    assert invoices["amount"].astype(float).tolist() == [10.0, 20.0]
    assert scores["as_of"].tolist() == [pd.Timestamp("2024-01-01 13:30")]
