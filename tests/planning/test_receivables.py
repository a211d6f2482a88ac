"""DSO, best-possible DSO, overdue share and aging against a ledger computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.planning.conftest import invoice_frame, payment_frame

from latepay.planning.receivables import (
    Receivables,
    aging_bucket,
    month_ends,
    outstanding_invoices,
    receivables_by_month,
    receivables_snapshot,
)

# At the close of 2024-03-31:
# A  issued 01-15, due 02-14, 1000, open          -> 46 days past due: 31-60
# B  issued 03-01, due 03-31,  500, open          ->  0 days: current
# C  issued 02-01, due 03-02,  300, settled 04-02 -> open; 29 days: 1-30; 100 paid 03-15 -> 200
# D  issued 2023-11-01, due 2023-12-01, 800, open -> 121 days: 90+
# E  issued 02-10, due 03-11,  400, settled 03-20 -> closed
# F  credit note of -50 issued 03-05              -> never counted
# G  issued 04-01                                 -> not yet issued
# H  issued 03-31 (the day itself), due 04-30, 100 -> open, current
LEDGER = invoice_frame(
    [
        {"invoice_id": "A", "customer_id": "C1", "issue_date": "2024-01-15",
         "due_date": "2024-02-14", "amount": 1000},
        {"invoice_id": "B", "customer_id": "C1", "issue_date": "2024-03-01",
         "due_date": "2024-03-31", "amount": 500},
        {"invoice_id": "C", "customer_id": "C2", "issue_date": "2024-02-01",
         "due_date": "2024-03-02", "amount": 300, "settled_date": "2024-04-02"},
        {"invoice_id": "D", "customer_id": "C2", "issue_date": "2023-11-01",
         "due_date": "2023-12-01", "amount": 800},
        {"invoice_id": "E", "customer_id": "C3", "issue_date": "2024-02-10",
         "due_date": "2024-03-11", "amount": 400, "settled_date": "2024-03-20"},
        {"invoice_id": "F", "customer_id": "C3", "issue_date": "2024-03-05",
         "due_date": "2024-04-04", "amount": -50, "is_credit_note": True},
        {"invoice_id": "G", "customer_id": "C3", "issue_date": "2024-04-01",
         "due_date": "2024-05-01", "amount": 700},
        {"invoice_id": "H", "customer_id": "C3", "issue_date": "2024-03-31",
         "due_date": "2024-04-30", "amount": 100},
    ]
)  # fmt: skip
PAYMENTS = payment_frame([("C", "2024-03-15", 100.0), ("C", "2024-04-02", 200.0)])


def test_outstanding_invoices_are_open_at_the_close_of_the_day_less_partial_payments() -> None:
    owed = outstanding_invoices(LEDGER, dt.date(2024, 3, 31), PAYMENTS).set_index("invoice_id")
    assert sorted(owed.index) == ["A", "B", "C", "D", "H"]
    assert owed["outstanding"].to_dict() == {"A": 1000, "B": 500, "C": 200, "D": 800, "H": 100}
    assert owed["days_past_due"].to_dict() == {"A": 46, "B": 0, "C": 29, "D": 121, "H": -30}


def test_snapshot_matches_the_hand_computed_dso_and_aging() -> None:
    snapshot = receivables_snapshot(LEDGER, dt.date(2024, 3, 31), payments=PAYMENTS)
    assert snapshot.open_invoices == 5
    assert snapshot.receivables == 2600  # 1000 + 500 + 200 + 800 + 100
    assert snapshot.current == 600  # B + H
    assert snapshot.overdue == 2000
    # Sales of the 90 days after 2024-01-01: A, B, C, E, H (D too old, F a credit note).
    assert snapshot.credit_sales == 2300
    assert snapshot.dso == pytest.approx(2600 / (2300 / 90))  # 101.7 days
    assert snapshot.best_possible_dso == pytest.approx(600 / (2300 / 90))  # 23.5 days
    assert snapshot.overdue_share == pytest.approx(2000 / 2600)
    assert snapshot.aging == {"current": 600, "1-30": 200, "31-60": 1000, "61-90": 0, "90+": 800}


def test_a_shorter_window_changes_only_the_sales_and_the_dso() -> None:
    # Sales of the 30 days after 2024-03-01: H only (B was issued on 03-01 itself).
    snapshot = receivables_snapshot(LEDGER, dt.date(2024, 3, 31), window_days=30)
    assert snapshot.credit_sales == 100
    assert snapshot.receivables == 2700  # without the payments: C counts 300
    assert snapshot.dso == pytest.approx(2700 / (100 / 30))


def test_nothing_sold_and_nothing_owed_give_no_ratios() -> None:
    snapshot = receivables_snapshot(LEDGER, dt.date(2023, 10, 1), payments=PAYMENTS)
    assert (snapshot.receivables, snapshot.credit_sales) == (0, 0)
    assert snapshot.dso is None and snapshot.best_possible_dso is None
    assert snapshot.overdue_share is None


def test_aging_bucket_edges_belong_to_the_lower_bucket() -> None:
    days = [-5, 0, 1, 30, 31, 60, 61, 90, 91]
    assert list(aging_bucket(days)) == [
        "current", "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+",
    ]  # fmt: skip


def test_trend_has_one_row_per_month_end_and_the_last_day() -> None:
    assert month_ends(dt.date(2024, 1, 10), dt.date(2024, 3, 31)) == [
        dt.date(2024, 1, 31),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
    ]
    assert month_ends(dt.date(2024, 2, 1), dt.date(2024, 3, 15))[-1] == dt.date(2024, 3, 15)
    trend = receivables_by_month(
        Receivables(LEDGER, PAYMENTS), first=dt.date(2024, 2, 1), last=dt.date(2024, 3, 31)
    ).set_index("as_of")
    march = trend.loc[dt.date(2024, 3, 31)]
    assert march["receivables"] == 2600 and march["dso"] == pytest.approx(2600 / (2300 / 90))
    # At the close of 02-29: A (15 days past due), C and E (not due), D exactly 90 days past due.
    february = trend.loc[dt.date(2024, 2, 29)]
    assert february["receivables"] == 2500
    assert (february["current"], february["1-30"], february["61-90"], february["90+"]) == (
        700,
        1000,
        800,
        0,
    )
