"""Data summaries on a table small enough to check by eye."""

from __future__ import annotations

import pandas as pd
import pytest

from latepay.evaluation import eda


@pytest.fixture
def invoices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ["a", "b", "c", "d", "e"],
            "customer_id": ["c1", "c1", "c2", "c3", "c3"],
            "issue_date": pd.to_datetime(
                ["2024-01-05", "2024-01-20", "2024-02-01", "2024-03-15", "2024-03-16"]
            ),
            "amount": [100.0, 250.0, None, 80.0, 120.0],
            "is_late": [1, 0, 1, 1, 0],
            "days_late": [3.0, None, 12.0, 40.0, None],
            "industry": ["retail", "retail", None, "energy", "mining"],
            "country": [None] * 5,
        }
    )


def test_data_summary(invoices: pd.DataFrame) -> None:
    summary = eda.data_summary(invoices)

    assert summary["n_invoices"] == 5
    assert summary["n_customers"] == 3
    assert summary["n_late"] == 3
    assert summary["late_rate"] == pytest.approx(0.6)
    assert summary["first_issue_date"] == pd.Timestamp("2024-01-05")
    assert summary["last_issue_date"] == pd.Timestamp("2024-03-16")


def test_late_rate_by_month(invoices: pd.DataFrame) -> None:
    monthly = eda.late_rate_by_month(invoices)

    assert monthly["month"].tolist() == list(
        pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])
    )
    assert monthly["count"].tolist() == [2, 1, 2]
    assert monthly["late_rate"].tolist() == pytest.approx([0.5, 1.0, 0.5])


def test_available_segments_skip_absent_and_empty_columns(invoices: pd.DataFrame) -> None:
    assert eda.available_segments(invoices) == ["industry"]


def test_late_rate_by_segment_labels_missing_and_folds_rare_values(
    invoices: pd.DataFrame,
) -> None:
    table = eda.late_rate_by_segment(invoices, "industry", max_values=2)

    # retail (2 invoices) is kept; of the one-invoice values, the first counted stays and the
    # rest are folded into "(other)", listed last.
    assert table["value"].iloc[0] == "retail"
    assert table["value"].iloc[-1] == eda.OTHER_LABEL
    assert table["count"].sum() == 5
    assert len(table) == 3
    retail = table.set_index("value").loc["retail"]
    assert (retail["count"], retail["late_rate"]) == (2, 0.5)


def test_late_rate_by_segment_shows_missing_values(invoices: pd.DataFrame) -> None:
    table = eda.late_rate_by_segment(invoices, "industry").set_index("value")

    assert table.loc[eda.MISSING_LABEL, "count"] == 1
    assert table.loc[eda.MISSING_LABEL, "late_rate"] == 1.0


def test_missing_values(invoices: pd.DataFrame) -> None:
    missing = eda.missing_values(invoices).set_index("column")

    assert missing.loc["amount", "missing_count"] == 1
    assert missing.loc["amount", "missing_share"] == pytest.approx(0.2)
    assert missing.loc["days_late", "missing_share"] == pytest.approx(0.4)
    assert missing.loc["country", "missing_share"] == 1.0
    assert missing.loc["invoice_id", "missing_share"] == 0.0
    assert list(missing.index) == list(invoices.columns)
