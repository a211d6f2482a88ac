import numpy as np
import pandas as pd
import pytest

from latepay.features import Ledger, build_features
from latepay.features.labels import LabelSpec, labels_known_at


def ledger_of(rows: list[tuple[str, str, str, str | None, float]]) -> Ledger:
    """Invoices of customer C: (invoice_id, issue, due, settled, amount)."""
    frame = pd.DataFrame(
        rows, columns=["invoice_id", "issue_date", "due_date", "settled_date", "amount"]
    )
    frame["customer_id"] = "C"
    return Ledger.from_frames(invoices=frame)


def test_history_counts_by_hand() -> None:
    ledger = ledger_of(
        [
            ("A", "2024-01-01", "2024-01-31", "2024-01-20", 100.0),  # on time
            ("B", "2024-01-05", "2024-02-04", "2024-02-14", 200.0),  # 10 days late
            ("C", "2024-02-01", "2024-02-15", None, 50.0),  # open, past due by March
            ("D", "2024-02-20", "2024-03-20", "2024-03-01", 70.0),  # settled on the moment
        ]
    )
    query = pd.DataFrame(
        {
            "invoice_id": ["Q"],
            "customer_id": ["C"],
            "issue_date": [pd.Timestamp("2024-03-01")],
            "due_date": [pd.Timestamp("2024-03-31")],
            "amount": [105.0],
        }
    )
    row = build_features(ledger, query).iloc[0]
    assert row["hist_paid_count"] == 2
    assert row["hist_late_count"] == 1
    assert row["hist_late_ratio"] == 0.5
    assert row["hist_paid_amount"] == 300.0
    assert row["hist_late_amount_ratio"] == pytest.approx(200 / 300)
    assert row["hist_avg_days_late"] == 5.0  # (0 + 10) / 2
    assert row["hist_days_late_last1"] == 10.0
    # D is settled on the moment's day: not yet known, so still open.
    assert row["open_count"] == 2
    assert row["open_amount"] == 120.0
    assert row["open_past_due_count"] == 1  # C, due 2024-02-15
    assert row["open_avg_days_past_due"] == 15.0  # 2024-03-01 - 2024-02-15
    assert row["days_since_last_late_payment"] == 16.0  # 2024-02-14 -> 2024-03-01
    assert row["amount_vs_typical"] == pytest.approx(105 / (420 / 4))
    assert row["terms_days"] == 30


def test_a_customer_without_history_has_missing_ratios_not_zeros() -> None:
    ledger = ledger_of([("A", "2024-01-01", "2024-01-31", "2024-01-20", 100.0)])
    row = build_features(ledger, ledger.invoices).iloc[0]
    assert row["hist_paid_count"] == 0
    assert np.isnan(row["hist_late_ratio"])


def test_labels_known_at_a_cutoff_include_unpaid_invoices_already_late() -> None:
    ledger = ledger_of(
        [
            ("paid_on_time", "2024-01-01", "2024-01-31", "2024-01-30", 1.0),
            ("paid_late", "2024-01-01", "2024-01-31", "2024-02-10", 1.0),
            ("paid_after_cutoff", "2024-02-01", "2024-03-01", "2024-04-20", 1.0),
            ("unpaid_long_late", "2024-01-01", "2024-01-15", None, 1.0),
            ("unpaid_not_due", "2024-03-20", "2024-04-20", None, 1.0),
        ]
    )
    labels = labels_known_at(ledger.invoices, pd.Timestamp("2024-04-01"), LabelSpec())
    by_id = labels.set_index(ledger.invoices.loc[labels.index, "invoice_id"])
    assert set(by_id.index) == {
        "paid_on_time",
        "paid_late",
        "paid_after_cutoff",
        "unpaid_long_late",
    }
    assert by_id.loc["paid_on_time", "bucket"] == 0
    assert by_id.loc["paid_late", "bucket"] == 1
    assert by_id.loc["paid_late", "days_late"] == 10
    # Unpaid 31 days after due at the cutoff: late, and already in the 31+ bucket.
    assert by_id.loc["paid_after_cutoff", "is_late"] == 1
    assert by_id.loc["paid_after_cutoff", "bucket"] == 2
    assert np.isnan(by_id.loc["paid_after_cutoff", "days_late"])
    assert by_id.loc["unpaid_long_late", "bucket"] == 2


def test_grace_days_move_the_late_boundary() -> None:
    ledger = ledger_of([("A", "2024-01-01", "2024-01-31", "2024-02-03", 1.0)])
    assert labels_known_at(ledger.invoices, None, LabelSpec(grace_days=0))["is_late"].iloc[0] == 1
    assert labels_known_at(ledger.invoices, None, LabelSpec(grace_days=3))["is_late"].iloc[0] == 0
