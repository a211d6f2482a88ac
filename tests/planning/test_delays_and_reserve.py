"""The ledger's record of payment delays (Kaplan-Meier by hand) and the reserve built on it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from tests.planning.conftest import invoice_frame

from latepay.features.labels import LabelSpec
from latepay.planning.delays import customer_delays, observe_delays
from latepay.planning.reserve import suggest_reserve, uncollectible_rates

AS_OF = dt.date(2024, 6, 1)
# Days late known at the start of 2024-06-01:
# I1 paid 2 days early (-2); I2 and I3 40 days late; I4 60 days late (01-01 -> 03-01);
# I5 due 01-01 still open: unpaid through 05-31, censored at 151 days;
# I6 due 05-21, paid 06-05 (after the day): censored at 10 days.
HISTORY = invoice_frame(
    [
        {"invoice_id": "I1", "customer_id": "A", "issue_date": "2023-12-01",
         "due_date": "2024-01-01", "amount": 100, "settled_date": "2023-12-30"},
        {"invoice_id": "I2", "customer_id": "A", "issue_date": "2023-12-01",
         "due_date": "2024-01-01", "amount": 100, "settled_date": "2024-02-10"},
        {"invoice_id": "I3", "customer_id": "B", "issue_date": "2023-12-11",
         "due_date": "2024-01-11", "amount": 100, "settled_date": "2024-02-20"},
        {"invoice_id": "I4", "customer_id": "B", "issue_date": "2023-12-01",
         "due_date": "2024-01-01", "amount": 100, "settled_date": "2024-03-01"},
        {"invoice_id": "I5", "customer_id": "B", "issue_date": "2023-12-01",
         "due_date": "2024-01-01", "amount": 100},
        {"invoice_id": "I6", "customer_id": "C", "issue_date": "2024-04-21",
         "due_date": "2024-05-21", "amount": 100, "settled_date": "2024-06-05"},
    ]
)  # fmt: skip


def test_kaplan_meier_matches_the_hand_computation() -> None:
    history = observe_delays(HISTORY, AS_OF, LabelSpec())
    # At -2 all 6 are at risk, 1 paid: 5/6. At 40: I2, I3, I4 and I5 at risk, 2 paid:
    # 5/6 * 2/4. At 60: I4 and I5 at risk, 1 paid: 5/12 * 1/2. Flat afterwards (I5 is open).
    days = np.array([-3, -2, 39, 40, 59, 60, 1000])
    expected = [1, 5 / 6, 5 / 6, 5 / 12, 5 / 12, 5 / 24, 5 / 24]
    assert history.survival_at(days) == pytest.approx(expected)
    assert history.settled == 4
    assert list(history.on_time_days) == [-2] and list(history.on_time_shares) == [1.0]
    assert history.on_time_cdf(np.array([-3, -2, 0])) == pytest.approx([0, 1, 1])
    assert history.unpaid_share(30, 365) == pytest.approx((5 / 24) / (5 / 6))
    assert history.unpaid_share(90, 365) == pytest.approx(1.0)


def test_nothing_paid_late_leaves_no_uncollectible_rate() -> None:
    paid_early = HISTORY[HISTORY["invoice_id"] == "I1"]
    history = observe_delays(paid_early, AS_OF, LabelSpec())
    assert history.unpaid_share(30, 365) is None
    assert uncollectible_rates(history) == (0.0, 0.0)


def test_customer_delays_count_only_invoices_settled_before_the_day() -> None:
    record = customer_delays(HISTORY, AS_OF, LabelSpec())
    assert record.loc["A"].to_dict() == pytest.approx(
        {
            "settled": 2,
            "paid_late": 1,
            "mean_days_late": (-2 + 40) / 2,
            "mean_days_when_late": 40,
            "share_on_time": 0.5,
            "share_late_1_30": 0.0,
            "share_late_31_plus": 0.5,
        }
    )
    assert record.loc["B", "settled"] == 2 and record.loc["B", "mean_days_when_late"] == 50
    assert "C" not in record.index  # I6 was paid after the day


def test_reserve_by_segment_matches_the_hand_computation() -> None:
    history = observe_delays(HISTORY, AS_OF, LabelSpec())  # R30 = 1/4, R90 = 1
    items = pd.DataFrame(
        {
            "segment": ["reliable", "critical"],
            "balance": [1000.0, 200.0],
            "p_over_30": [0.5, 1.0],
            "p_over_90": [0.2, 1.0],
        }
    )
    reserve = suggest_reserve(items, history, segments=("reliable", "watch", "critical"))
    rows = {row.segment: row for row in reserve.rows}
    # reliable: >30 500, >90 200; reserve 200 x 1 + (500 - 200) x 1/4 = 275.
    assert (rows["reliable"].expected_over_30, rows["reliable"].expected_over_90) == (500, 200)
    assert rows["reliable"].suggested_reserve == pytest.approx(275)
    assert rows["critical"].suggested_reserve == pytest.approx(200)
    assert rows["watch"].open_invoices == 0 and rows["watch"].suggested_reserve == 0
    assert reserve.total.suggested_reserve == pytest.approx(475)
    assert reserve.total.open_amount == 1200
    assert (reserve.rate_over_30, reserve.rate_over_90) == pytest.approx((0.25, 1.0))
    assert "expected amount more than 90 days late" in reserve.to_dict()["method"]
