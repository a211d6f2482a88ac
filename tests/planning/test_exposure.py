import datetime as dt
import math

import pandas as pd

from latepay.planning.exposure import expected_late_amounts
from latepay.planning.receivables import Receivables


def _invoices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3"],
            "customer_id": ["C", "C", "D"],
            "issue_date": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-02-01"]),
            "due_date": pd.to_datetime(["2024-01-31", "2024-02-09", "2024-03-02"]),
            "amount": [100.0, 200.0, 400.0],
            "currency": ["EUR"] * 3,
            "settled_date": pd.to_datetime(["2024-02-15", None, None]),
            "is_credit_note": [False, False, False],
        }
    )


def test_expected_late_amount_weights_outstanding_by_the_latest_score_known_that_day():
    payments = pd.DataFrame(
        {"invoice_id": ["I2"], "paid_date": pd.to_datetime(["2024-02-20"]), "amount": [50.0]}
    )
    scores = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I2", "I3"],
            "as_of": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-02-29", "2024-03-01"]),
            "p_late": [0.5, 0.2, 0.6, 0.9],
        }
    )
    days = [dt.date(2023, 12, 31), dt.date(2024, 1, 31), dt.date(2024, 2, 29)]
    table = expected_late_amounts(Receivables(_invoices(), payments), scores, days)
    # Dec 31: nothing issued yet, nothing scored.
    assert table.loc[0, "receivables"] == 0
    assert math.isnan(table.loc[0, "expected_late_amount"])
    # Jan 31: I1 100 x 0.5 + I2 200 x 0.2.
    assert table.loc[1, "expected_late_amount"] == 100 * 0.5 + 200 * 0.2
    assert table.loc[1, "unscored_amount"] == 0
    # Feb 29: I1 settled; I2 150 outstanding x 0.6 (rescored that day); I3 400 not yet scored.
    assert table.loc[2, "receivables"] == 550
    assert table.loc[2, "expected_late_amount"] == 150 * 0.6
    assert table.loc[2, "unscored_amount"] == 400
