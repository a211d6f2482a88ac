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


def test_read_unconverted_gives_what_sqlalchemy_gives(engine):
    from latepay.db.frames import read_unconverted

    with engine.begin() as connection:
        connection.execute(sa.insert(Customer), [{"customer_id": "C", "row_hash": "h"}])
        connection.execute(
            sa.insert(Invoice),
            [
                {
                    "invoice_id": f"I{day}",
                    "customer_id": "C",
                    "issue_date": dt.date(2024, 1, day),
                    "due_date": dt.date(2024, 2, day),
                    "amount": -5.0 if day == 2 else 10.5 * day,
                    "is_credit_note": day == 2,
                    "row_hash": "h",
                }
                for day in (1, 2, 3)
            ],
        )
    plain = sa.select(
        Invoice.invoice_id, sa.type_coerce(Invoice.amount, sa.Float).label("amount")
    ).where(Invoice.invoice_id.in_(["I1", "I3", "nope"]))
    # Columns SQLAlchemy converts (a date, a flag) must come back converted all the same.
    converted = sa.select(Invoice.invoice_id, Invoice.issue_date, Invoice.is_credit_note)
    with engine.connect() as connection:
        for query in (plain, converted):
            pd.testing.assert_frame_equal(
                read_unconverted(connection, query), pd.read_sql(query, connection)
            )
        got = read_unconverted(connection, converted).set_index("invoice_id")
    assert got["is_credit_note"].tolist() == [False, True, False]
    assert got.loc["I1", "issue_date"] == dt.date(2024, 1, 1)
