"""The most important rule: a feature never uses what happened on or after its moment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
from hypothesis import given, settings
from hypothesis import strategies as st

from latepay.features import Ledger, build_features

START = pd.Timestamp("2023-01-01")


def random_ledger(seed: int, customers: int = 4, invoices: int = 60) -> Ledger:
    rng = np.random.default_rng(seed)
    customer_ids = [f"C{i}" for i in range(customers)]
    issue = START + pd.to_timedelta(rng.integers(0, 300, invoices), unit="D")
    terms = rng.choice([14, 30, 60], invoices)
    due = issue + pd.to_timedelta(terms, unit="D")
    delay = rng.integers(-10, 60, invoices)
    settled = pd.Series(issue + pd.to_timedelta(np.maximum(terms + delay, 0), unit="D"))
    settled[rng.random(invoices) < 0.15] = pd.NaT
    frame = pd.DataFrame(
        {
            "invoice_id": [f"I{i:04d}" for i in range(invoices)],
            "customer_id": rng.choice(customer_ids, invoices),
            "issue_date": issue,
            "due_date": due,
            "settled_date": settled,
            "amount": np.round(rng.lognormal(6, 1, invoices), 2),
            "payment_method": rng.choice(["card", "transfer", None], invoices),
            "channel": rng.choice(["paper", "electronic"], invoices),
            "currency": "EUR",
            "inv_po_required": rng.choice(["true", "false"], invoices),
        }
    )
    disputes = pd.DataFrame(
        {
            "customer_id": rng.choice(customer_ids, 12),
            "opened_date": START + pd.to_timedelta(rng.integers(0, 350, 12), unit="D"),
        }
    )
    disputes["resolved_date"] = disputes["opened_date"] + pd.to_timedelta(
        rng.integers(1, 40, 12), unit="D"
    )
    interactions = pd.DataFrame(
        {
            "customer_id": rng.choice(customer_ids, 30),
            "date": START + pd.to_timedelta(rng.integers(0, 350, 30), unit="D"),
            "topic": rng.choice(["complaint", "billing_question", "general"], 30),
        }
    )
    periods = pd.date_range("2022-10-01", periods=16, freq="MS")
    indicators = pd.DataFrame(
        {
            "name": "activity",
            "key": np.repeat(["retail", "energy"], len(periods)),
            "period": np.tile(periods, 2),
            "value": rng.normal(100, 5, 2 * len(periods)),
        }
    )
    customers_frame = pd.DataFrame(
        {
            "customer_id": customer_ids,
            "industry": rng.choice(["retail", "energy"], customers),
            "country": "DE",
            "credit_limit": 50_000.0,
        }
    )
    return Ledger.from_frames(
        invoices=frame,
        customers=customers_frame,
        disputes=disputes,
        interactions=interactions,
        indicators=indicators,
    )


def future_events(ledger: Ledger, moment: pd.Timestamp, seed: int) -> Ledger:
    """The same ledger plus events on or after ``moment``: what the future adds."""
    rng = np.random.default_rng(seed + 1)
    customer_ids = ledger.customers["customer_id"].to_numpy()
    invoices = ledger.invoices.copy()
    # Invoices still open at the moment may be settled from the moment on.
    open_at_moment = invoices["settled_date"].isna() | (invoices["settled_date"] >= moment)
    later = moment + pd.to_timedelta(rng.integers(0, 90, len(invoices)), unit="D")
    invoices.loc[open_at_moment, "settled_date"] = np.maximum(
        later[open_at_moment.to_numpy()], invoices.loc[open_at_moment, "issue_date"]
    )
    n = 15
    new_issue = moment + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    new_invoices = pd.DataFrame(
        {
            "invoice_id": [f"F{i:04d}" for i in range(n)],
            "customer_id": rng.choice(customer_ids, n),
            "issue_date": new_issue,
            "due_date": new_issue + pd.Timedelta(days=30),
            "settled_date": new_issue + pd.to_timedelta(rng.integers(0, 80, n), unit="D"),
            "amount": 1234.5,
            "payment_method": "cheque",
            "channel": "paper",
            "currency": "EUR",
            "inv_po_required": "true",
            "is_credit_note": False,
        }
    )
    disputes = ledger.disputes.copy()
    # A dispute open at the moment may be resolved from the moment on.
    still_open = disputes["resolved_date"] >= moment
    disputes.loc[still_open, "resolved_date"] = moment + pd.Timedelta(days=100)
    new_disputes = pd.DataFrame(
        {"customer_id": rng.choice(customer_ids, 5), "opened_date": moment, "invoice_id": None}
    )
    new_interactions = pd.DataFrame(
        {"customer_id": rng.choice(customer_ids, 5), "date": moment, "topic": "complaint"}
    )
    periods = pd.date_range(moment.to_period("M").to_timestamp(), periods=3, freq="MS")
    new_indicators = pd.DataFrame(
        {"name": "activity", "key": "retail", "period": periods, "value": -999.0}
    )
    indicators = ledger.indicators[ledger.indicators["period"] + pd.offsets.MonthEnd(0) < moment]
    return Ledger.from_frames(
        invoices=pd.concat([invoices, new_invoices], ignore_index=True),
        customers=ledger.customers,
        disputes=pd.concat([disputes, new_disputes], ignore_index=True),
        interactions=pd.concat([ledger.interactions, new_interactions], ignore_index=True),
        indicators=pd.concat([indicators, new_indicators], ignore_index=True),
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), query=st.integers(0, 59))
def test_future_events_never_change_features(seed: int, query: int) -> None:
    ledger = random_ledger(seed)
    invoice = ledger.invoices.iloc[[query]]
    moment = invoice["issue_date"].iloc[0]
    past_only = Ledger.from_frames(
        invoices=ledger.invoices[ledger.invoices["issue_date"] < moment].assign(
            settled_date=lambda f: f["settled_date"].where(f["settled_date"] < moment)
        ),
        customers=ledger.customers,
        disputes=ledger.disputes[ledger.disputes["opened_date"] < moment].assign(
            resolved_date=lambda f: f["resolved_date"].where(f["resolved_date"] < moment)
        ),
        interactions=ledger.interactions[ledger.interactions["date"] < moment],
        indicators=ledger.indicators[ledger.indicators["period"] + pd.offsets.MonthEnd(0) < moment],
    )
    with_future = future_events(ledger, moment, seed)
    expected = build_features(past_only, invoice)
    pdt.assert_frame_equal(build_features(ledger, invoice), expected)
    pdt.assert_frame_equal(build_features(with_future, invoice), expected)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_live_score_of_one_customer_equals_the_backtest(seed: int) -> None:
    """A live score reads only its customer's history; features must not change."""
    ledger = random_ledger(seed)
    all_features = build_features(ledger, ledger.invoices)
    for customer_id in ledger.customers["customer_id"]:
        mine = ledger.invoices["customer_id"] == customer_id
        live = build_features(ledger.for_customers([customer_id]), ledger.invoices[mine])
        pdt.assert_frame_equal(live, all_features[mine])


def test_a_later_moment_sees_more_history() -> None:
    ledger = random_ledger(7)
    invoices = ledger.invoices.sort_values("issue_date").tail(10)
    at_issue = build_features(ledger, invoices)
    much_later = build_features(
        ledger, invoices, moments=invoices["issue_date"] + pd.Timedelta(days=400)
    )
    assert (much_later["hist_paid_count"] >= at_issue["hist_paid_count"]).all()
    assert (much_later["hist_paid_count"] > at_issue["hist_paid_count"]).any()
