import datetime as dt

import pandas as pd

from latepay.dashboard.risk import behaviour_changes, breakdown

AS_OF = dt.date(2024, 6, 30)


def _settled(customer: str, days_late: list[int], settled_days_ago: int) -> list[dict]:
    settled = pd.Timestamp(AS_OF) - pd.Timedelta(days=settled_days_ago)
    return [
        {
            "customer_id": customer,
            "due_date": settled - pd.Timedelta(days=late),
            "settled_date": settled,
        }
        for late in days_late
    ]


def test_behaviour_changes_compare_recent_with_earlier_late_share():
    rows = (
        # A: earlier 1 of 4 late, recent 3 of 3 late: +0.75.
        _settled("A", [0, 0, 5, 0], 200)
        + _settled("A", [10, 20, 30], 10)
        # B: earlier 2 of 3 late, recent 1 of 4 late (one is within 2 grace days): -5/12.
        + _settled("B", [9, 9, 0], 300)
        + _settled("B", [2, 0, 0, 15], 30)
        # C: only 2 recent invoices: too few to say.
        + _settled("C", [0, 0, 0], 300)
        + _settled("C", [30, 30], 5)
    )
    table = behaviour_changes(pd.DataFrame(rows), AS_OF, grace_days=2)
    assert table["customer_id"].tolist() == ["A", "B"]
    assert table["change"].tolist() == [0.75, 0.25 - 2 / 3]
    assert table["recent_invoices"].tolist() == [3, 4]


def test_breakdown_orders_tiers_by_severity_and_others_by_expected_late_amount():
    items = pd.DataFrame(
        {
            "risk_tier": ["high", "low", "high", "critical"],
            "industry": ["x", "y", "y", "z"],
            "amount": [100.0, 50.0, 10.0, 40.0],
            "expected_late_amount": [70.0, 5.0, 7.0, 36.0],
        }
    )
    tiers = breakdown(items, "risk_tier")
    assert tiers["risk_tier"].tolist() == ["low", "high", "critical"]
    assert tiers["amount"].tolist() == [50.0, 110.0, 40.0]
    assert tiers["invoices"].tolist() == [1, 2, 1]
    industries = breakdown(items, "industry")
    assert industries["industry"].tolist() == ["x", "z", "y"]
    assert industries["expected_late_amount"].tolist() == [70.0, 36.0, 12.0]
