import datetime as dt

import sqlalchemy as sa

from latepay.db.sqldates import days_between
from latepay.db.tables import Customer, Invoice


def test_days_between_counts_whole_days_across_months_and_leap_days(engine):
    with engine.begin() as connection:
        connection.execute(sa.insert(Customer).values(customer_id="C1", row_hash="h"))
        for invoice_id, due, settled in [
            ("early", dt.date(2024, 3, 10), dt.date(2024, 3, 1)),
            ("same", dt.date(2024, 3, 10), dt.date(2024, 3, 10)),
            ("leap", dt.date(2024, 2, 28), dt.date(2024, 3, 1)),
            ("year", dt.date(2023, 12, 31), dt.date(2024, 12, 31)),
        ]:
            connection.execute(
                sa.insert(Invoice).values(
                    invoice_id=invoice_id,
                    customer_id="C1",
                    issue_date=dt.date(2023, 1, 1),
                    due_date=due,
                    settled_date=settled,
                    amount=1.0,
                    row_hash="h",
                )
            )
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                Invoice.invoice_id, days_between(Invoice.settled_date, Invoice.due_date)
            ).order_by(Invoice.invoice_id)
        ).all()
    assert dict(rows) == {"early": -9, "leap": 2, "same": 0, "year": 366}
