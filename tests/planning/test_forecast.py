"""The cash-in forecast's arithmetic: certain outcomes, hand-computed weeks, bands, fallbacks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from tests.planning.conftest import invoice_frame, payment_frame

from latepay.errors import InputError
from latepay.features.labels import LabelSpec
from latepay.planning.delays import customer_delays
from latepay.planning.forecast import (
    forecast_cash_in,
    simulate_weekly_totals,
    with_payment_outlook,
)

SPEC = LabelSpec()  # on_time, late_1_30, late_31_plus
AS_OF = dt.date(2024, 6, 3)  # a Monday: week 1 is 06-03 to 06-09, week 2 06-10 to 06-16, ...
CUTOFFS = (0.25, 0.5, 0.75)
# Paid on its due date, before AS_OF: on-time invoices are paid on their due date.
PAID_ON_DUE_DATE = {
    "invoice_id": "H1", "customer_id": "OLD", "issue_date": "2024-01-01",
    "due_date": "2024-01-31", "amount": 50, "settled_date": "2024-01-31",
}  # fmt: skip


def predictions(rows: dict[str, tuple[float, float, float, float]]) -> pd.DataFrame:
    """Scores by invoice: (p_on_time, p_late_1_30, p_late_31_plus, expected_days_late)."""
    frame = pd.DataFrame.from_dict(
        rows,
        orient="index",
        columns=["p_on_time", "p_late_1_30", "p_late_31_plus", "expected_days_late"],
    )
    frame["p_late"] = 1.0 - frame["p_on_time"]
    return frame


def forecast(invoices, scores, payments=None, **options):
    return forecast_cash_in(
        invoice_frame(invoices),
        payments if payments is not None else payment_frame(),
        scores,
        as_of=AS_OF,
        spec=SPEC,
        segment_cutoffs=CUTOFFS,
        **{"weeks": 4, "simulations": 200, **options},
    )


def test_certain_on_time_payments_land_whole_in_their_due_weeks() -> None:
    result = forecast(
        [
            PAID_ON_DUE_DATE,
            {
                "invoice_id": "X",
                "customer_id": "C1",
                "issue_date": "2024-05-13",
                "due_date": "2024-06-12",
                "amount": 1000,
            },
            # 40 of 100 already paid: the 60 left arrive in week 3 (06-17 to 06-23).
            {
                "invoice_id": "Z",
                "customer_id": "C2",
                "issue_date": "2024-05-20",
                "due_date": "2024-06-20",
                "amount": 100,
            },
        ],
        predictions({"X": (1, 0, 0, 0), "Z": (1, 0, 0, 0)}),
        payments=payment_frame([("Z", "2024-05-25", 40.0)]),
    )
    (part,) = result.currencies
    weeks = part.total.weeks
    assert [w.expected for w in weeks] == pytest.approx([0, 1000, 60, 0])
    for week in weeks:
        assert week.p10 == week.p50 == week.p90 == pytest.approx(week.expected)
    assert (weeks[1].start, weeks[1].end) == (dt.date(2024, 6, 10), dt.date(2024, 6, 16))
    assert part.total.after_horizon == pytest.approx(0)
    assert part.total.open_amount == 1060
    assert part.reserve.total.expected_over_30 == pytest.approx(0)


def test_late_days_follow_the_geometric_curve_of_the_expected_delay() -> None:
    # Due 06-02, so 06-03 is 1 day late. Late for sure, 1-30 days, expected 1.5 days late:
    # the curve P(d > x) = q ** x has mean 1 + q / (1 - q) = 1.5, so q = 1/3, truncated to
    # 1..30 days. Week 1 covers days 1-7: 1 - (q**7 - q**30) / (1 - q**30).
    q = 1 / 3
    result = forecast(
        [
            PAID_ON_DUE_DATE,
            {
                "invoice_id": "Y",
                "customer_id": "C1",
                "issue_date": "2024-05-03",
                "due_date": "2024-06-02",
                "amount": 3000,
            },
        ],
        predictions({"Y": (0, 1, 0, 1.5)}),
    )
    weeks = result.currencies[0].total.weeks
    first = 1 - (q**7 - q**30) / (1 - q**30)
    second = (q**7 - q**14) / (1 - q**30)
    assert weeks[0].expected == pytest.approx(3000 * first)
    assert weeks[1].expected == pytest.approx(3000 * second)
    assert sum(w.expected for w in weeks) + result.currencies[0].total.after_horizon == (
        pytest.approx(3000)
    )


def test_an_invoice_past_what_its_score_allowed_pays_from_the_first_day() -> None:
    # Scored on time for sure, but already 10 days past due: the on-time days are gone.
    # With no late history the expected delay is 1 day: q = 0.5 / 1.5, from 06-03 on.
    q = 1 / 3
    result = forecast(
        [
            PAID_ON_DUE_DATE,
            {
                "invoice_id": "W",
                "customer_id": "C1",
                "issue_date": "2024-04-24",
                "due_date": "2024-05-24",
                "amount": 900,
            },
        ],
        predictions({"W": (1, 0, 0, 0)}),
    )
    weeks = result.currencies[0].total.weeks
    assert weeks[0].expected == pytest.approx(900 * (1 - q**7))


def test_the_open_ended_bucket_follows_the_history_and_money_that_never_came() -> None:
    # History: two invoices 40 and 60 days late, one still open 150 days past due.
    # Kaplan-Meier from 31 days on: P(d > 39) = 1, P(d > 40) = 2/3, P(d > 60) = 1/3 (flat).
    history = [
        {"invoice_id": f"P{k}", "customer_id": "OLD", "issue_date": "2023-12-02",
         "due_date": "2024-01-01", "amount": 10, "settled_date": settled}
        for k, settled in enumerate(["2024-02-10", "2024-03-01", None])
    ]  # fmt: skip
    # V is due 05-20, so days late 14 on 06-03; 40 days late is 06-29 (week 4),
    # 60 days late is 07-19 (after four weeks).
    result = forecast(
        [
            *history,
            {
                "invoice_id": "V",
                "customer_id": "C1",
                "issue_date": "2024-04-20",
                "due_date": "2024-05-20",
                "amount": 600,
            },
        ],
        predictions({"V": (0, 0, 1, 45)}),
    )
    part = result.currencies[0]
    assert [w.expected for w in part.total.weeks] == pytest.approx([0, 0, 0, 200])
    # After the horizon: V's 400, and the history's own open invoice (10, never scored, 154
    # days past due), which, as the history says of invoices that late, never pays.
    assert part.total.after_horizon == pytest.approx(410)
    assert part.unpredicted_invoices == 1


def test_bands_contain_the_expected_value_and_simulations_average_to_it() -> None:
    rng = np.random.default_rng(5)
    n = 400
    due = pd.Timestamp(AS_OF) + pd.to_timedelta(rng.integers(-20, 50, n), unit="D")
    invoices = [
        {"invoice_id": f"N{i}", "customer_id": f"C{i % 150}", "issue_date": "2024-03-01",
         "due_date": f"{due[i]:%Y-%m-%d}", "amount": float(rng.uniform(100, 2000))}
        for i in range(n)
    ]  # fmt: skip
    buckets = rng.dirichlet([3, 2, 1], n)
    scores = predictions(
        {f"N{i}": (*buckets[i], (1 - buckets[i][0]) * rng.uniform(2, 60)) for i in range(n)}
    )
    result = forecast([PAID_ON_DUE_DATE, *invoices], scores, weeks=8, simulations=2000)
    part = result.currencies[0]
    for week in part.total.weeks:
        assert week.p10 <= week.expected <= week.p90
        assert week.p10 <= week.p50 <= week.p90
    assert sum(s.open_amount for s in part.segments.values()) == pytest.approx(
        part.total.open_amount
    )
    for w, week in enumerate(part.total.weeks):
        by_segment = sum(s.weeks[w].expected for s in part.segments.values())
        assert by_segment == pytest.approx(week.expected)


def test_simulated_totals_average_to_the_exact_expectation() -> None:
    probabilities = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [1.0, 0.0, 0.0]])
    amounts = np.array([100.0, 50.0, 10.0])
    runs = simulate_weekly_totals(
        probabilities,
        amounts,
        customers=np.array([0, 0, 1]),
        groups=np.array([0, 1, 1]),
        n_groups=2,
        simulations=20_000,
        seed=3,
    )
    assert runs.shape == (2, 20_000, 3)
    # Every simulation pays every invoice once, in a week or after the horizon.
    assert runs.sum(axis=(0, 2)) == pytest.approx(np.full(20_000, 160.0))
    expected = probabilities * amounts[:, None]
    assert runs[0].mean(axis=0) == pytest.approx(expected[0], abs=1.5)
    assert runs[1].mean(axis=0) == pytest.approx(expected[1] + expected[2], abs=1.0)
    # The same seed gives the same simulations.
    again = simulate_weekly_totals(
        probabilities,
        amounts,
        customers=np.array([0, 0, 1]),
        groups=np.array([0, 1, 1]),
        n_groups=2,
        simulations=20_000,
        seed=3,
    )
    assert np.array_equal(runs, again)


def test_unscored_invoices_take_their_customers_record() -> None:
    # C1 paid one invoice on time and one 10 days late: 1/2 on time, 1/2 late 1-30,
    # 10 days late when late.
    history = invoice_frame(
        [
            {"invoice_id": "H1", "customer_id": "C1", "issue_date": "2024-01-01",
             "due_date": "2024-01-31", "amount": 10, "settled_date": "2024-01-31"},
            {"invoice_id": "H2", "customer_id": "C1", "issue_date": "2024-02-01",
             "due_date": "2024-03-02", "amount": 10, "settled_date": "2024-03-12"},
            {"invoice_id": "U", "customer_id": "C1", "issue_date": "2024-05-20",
             "due_date": "2024-06-19", "amount": 10},
        ]
    )  # fmt: skip
    items = history[history["invoice_id"] == "U"].assign(balance=10.0)
    outlook = with_payment_outlook(
        items, predictions({}), customer_delays(history, AS_OF, SPEC), SPEC
    ).iloc[0]
    assert not outlook["predicted"]
    assert (outlook["p_on_time"], outlook["p_late_1_30"], outlook["p_late_31_plus"]) == (
        0.5,
        0.5,
        0.0,
    )
    assert outlook["p_late"] == 0.5 and outlook["mean_days_when_late"] == 10


def test_currencies_are_never_added_together() -> None:
    result = forecast(
        [
            PAID_ON_DUE_DATE,
            {
                "invoice_id": "E",
                "customer_id": "C1",
                "issue_date": "2024-05-13",
                "due_date": "2024-06-05",
                "amount": 100,
            },
            {
                "invoice_id": "D",
                "customer_id": "C2",
                "issue_date": "2024-05-13",
                "due_date": "2024-06-05",
                "amount": 70,
                "currency": "USD",
            },
        ],
        predictions({"E": (1, 0, 0, 0), "D": (1, 0, 0, 0)}),
    )
    assert [(p.currency, p.total.weeks[0].expected) for p in result.currencies] == [
        ("EUR", pytest.approx(100)),
        ("USD", pytest.approx(70)),
    ]
    body = result.to_dict()
    assert "never added" in body["currency_handling"]
    assert body["unpredicted_invoices"] == 0


def test_weeks_outside_the_range_are_refused() -> None:
    with pytest.raises(InputError, match="weeks must be between 1 and 104, got 0"):
        forecast([PAID_ON_DUE_DATE], predictions({}), weeks=0)


def test_a_day_with_nothing_open_forecasts_nothing() -> None:
    result = forecast(
        [PAID_ON_DUE_DATE], predictions({}), payments=payment_frame([("H1", "2024-01-31", 50.0)])
    )
    assert result.currencies == [] and result.unpredicted_invoices == 0
    assert result.to_dict()["currencies"] == []
