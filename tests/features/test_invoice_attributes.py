"""Calendar features of the invoice itself, by day arithmetic, agree with pandas' calendar."""

from __future__ import annotations

import numpy as np
import pandas as pd

from latepay.features import Ledger, build_features


def test_weekday_month_and_period_ends_match_the_calendar() -> None:
    issue = pd.Series(
        [*pd.date_range("1999-12-20", "2025-03-10", freq="13D"), pd.NaT], dtype="datetime64[s]"
    )
    due = issue + pd.to_timedelta(np.arange(len(issue)) % 50 - 10, unit="D")
    queries = pd.DataFrame(
        {"customer_id": "C1", "issue_date": issue, "due_date": due, "amount": 100.0}
    )
    ledger = Ledger.from_frames(invoices=queries.iloc[:0].assign(invoice_id=[]))
    features = build_features(
        ledger, queries, moments=pd.Series(pd.Timestamp("2030-01-01"), index=queries.index)
    )

    month_end = (issue + pd.offsets.MonthEnd(0) - issue).dt.days < 3
    expected = pd.DataFrame(
        {
            "terms_days": (due - issue).dt.days.astype(float),
            "issue_weekday": issue.dt.day_of_week.astype(float),
            "issue_month": issue.dt.month.astype(float),
            "is_month_end": month_end.astype(float),
            "is_quarter_end": (month_end & issue.dt.month.isin([3, 6, 9, 12])).astype(float),
            # The customer is not on file, so it has no agreed terms to compare with.
            "terms_vs_usual_days": np.full(len(issue), np.nan),
        }
    )
    pd.testing.assert_frame_equal(features[expected.columns], expected)
    assert features["is_month_end"].sum() > 0 and features["is_quarter_end"].sum() > 0
    assert features["terms_days"].min() < 0
