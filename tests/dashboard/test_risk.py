import datetime as dt

import pandas as pd
import sqlalchemy as sa

from latepay.dashboard.risk import behaviour_changes, breakdown, settled_counts
from latepay.db.tables import Customer, Invoice

AS_OF = dt.date(2024, 6, 30)


def _counts(customer: str, recent: tuple[int, int], earlier: tuple[int, int]) -> list[dict]:
    """(settled, late) counts of a customer's recent and earlier invoices."""
    return [
        {"customer_id": customer, "recent": 1, "settled": recent[0], "late": recent[1]},
        {"customer_id": customer, "recent": 0, "settled": earlier[0], "late": earlier[1]},
    ]


def test_behaviour_changes_compare_recent_with_earlier_late_share():
    rows = (
        # A: earlier 1 of 4 late, recent 3 of 3 late: +0.75.
        _counts("A", recent=(3, 3), earlier=(4, 1))
        # B: earlier 2 of 3 late, recent 1 of 4 late: -5/12.
        + _counts("B", recent=(4, 1), earlier=(3, 2))
        # C: only 2 recent invoices: too few to say.
        + _counts("C", recent=(2, 2), earlier=(3, 0))
        # D: no earlier invoices at all.
        + _counts("D", recent=(5, 5), earlier=(0, 0))[:1]
    )
    table = behaviour_changes(pd.DataFrame(rows))
    assert table["customer_id"].tolist() == ["A", "B"]
    assert table["change"].tolist() == [0.75, 0.25 - 2 / 3]
    assert table["recent_invoices"].tolist() == [3, 4]


def test_settled_counts_split_recent_from_earlier_and_apply_grace_days(engine):
    with engine.begin() as connection:
        connection.execute(sa.insert(Customer).values(customer_id="A", row_hash="h"))
        for number, (due, settled) in enumerate(
            [
                ("2024-06-01", "2024-06-03"),  # recent, 2 days late: within grace
                ("2024-05-01", "2024-05-10"),  # recent, 9 days late
                ("2024-01-01", "2024-01-20"),  # earlier, 19 days late
                ("2024-02-01", "2024-01-25"),  # earlier, early
                ("2023-01-01", "2023-02-01"),  # before the start: left out
            ]
        ):
            connection.execute(
                sa.insert(Invoice).values(
                    invoice_id=f"I{number}",
                    customer_id="A",
                    issue_date=dt.date(2022, 12, 1),
                    due_date=dt.date.fromisoformat(due),
                    settled_date=dt.date.fromisoformat(settled),
                    amount=1.0,
                    row_hash="h",
                )
            )
    with engine.connect() as connection:
        counts = settled_counts(connection, dt.date(2023, 6, 1), AS_OF, grace_days=2)
    by_side = counts.set_index("recent")[["settled", "late"]].to_dict("index")
    assert by_side == {1: {"settled": 2, "late": 1}, 0: {"settled": 2, "late": 1}}


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
