"""Broken promises to pay as a feature: counted only once their fate was known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.features.test_point_in_time import random_ledger

from latepay.features import Ledger, build_features

D = pd.Timestamp


def _ledger(promises: pd.DataFrame) -> Ledger:
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I9"],
            "customer_id": ["C1", "C1", "C1", "C2"],
            "issue_date": [D("2024-01-01")] * 3 + [D("2024-01-01")],
            "due_date": [D("2024-01-31")] * 4,
            # I1 paid on its promised date, I2 a week after it, I3 never.
            "settled_date": [D("2024-02-10"), D("2024-02-17"), pd.NaT, pd.NaT],
            "amount": 100.0,
        }
    )
    return Ledger.from_frames(invoices=invoices, promises=promises)


PROMISES = pd.DataFrame(
    {
        "customer_id": ["C1", "C1", "C1"],
        "invoice_id": ["I1", "I2", "I3"],
        "recorded_date": [D("2024-02-05"), D("2024-02-05"), D("2024-02-20")],
        "promised_date": [D("2024-02-10"), D("2024-02-10"), D("2024-02-15")],
    }
)


def _features_at(ledger: Ledger, day: str, customer: str = "C1") -> tuple[float, float]:
    query = pd.DataFrame(
        {
            "customer_id": [customer],
            "issue_date": [D(day)],
            "due_date": [D(day) + pd.Timedelta(days=30)],
            "amount": [50.0],
        }
    )
    row = build_features(ledger, query).iloc[0]
    return row["broken_promises"], row["broken_promise_share"]


def test_broken_promises_count_from_the_day_after_their_date() -> None:
    ledger = _ledger(PROMISES)
    # On the promised day itself nothing is decided yet.
    count, share = _features_at(ledger, "2024-02-10")
    assert count == 0
    assert np.isnan(share)
    # The next day: I1 kept (paid on 10 Feb), I2 broken (paid 17 Feb).
    assert _features_at(ledger, "2024-02-11") == (1, 0.5)
    # I3's promise was recorded on 20 Feb for 15 Feb (a late entry): known from 21 Feb.
    assert _features_at(ledger, "2024-02-20") == (1, 0.5)
    count, share = _features_at(ledger, "2024-02-21")
    assert (count, share) == (2, 2 / 3)
    # Another customer's promises do not count.
    assert _features_at(ledger, "2024-03-01", customer="C2")[0] == 0


def test_a_settlement_after_the_moment_does_not_unbreak_a_promise() -> None:
    # I2 was paid on 17 Feb; seen from 12 Feb the promise of 10 Feb is broken either way.
    assert _features_at(_ledger(PROMISES), "2024-02-12") == (1, 0.5)
    # And a payment made after the promised date never makes it kept.
    assert _features_at(_ledger(PROMISES), "2024-03-01")[0] == 2


def _random_promises(ledger: Ledger, seed: int, count: int = 25) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    chosen = ledger.invoices.sample(count, replace=True, random_state=seed)
    recorded = chosen["issue_date"] + pd.to_timedelta(rng.integers(0, 90, count), unit="D")
    return pd.DataFrame(
        {
            "customer_id": chosen["customer_id"].to_numpy(),
            "invoice_id": chosen["invoice_id"].to_numpy(),
            "recorded_date": recorded.to_numpy(),
            "promised_date": (
                recorded + pd.to_timedelta(rng.integers(0, 20, count), unit="D")
            ).to_numpy(),
        }
    )


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), query=st.integers(0, 59))
def test_what_happens_on_or_after_the_moment_never_changes_the_feature(
    seed: int, query: int
) -> None:
    base = random_ledger(seed)
    promises = _random_promises(base, seed)
    ledger = Ledger.from_frames(invoices=base.invoices, customers=base.customers, promises=promises)
    invoice = ledger.invoices.iloc[[query]]
    moment = invoice["issue_date"].iloc[0]
    # Only what was known before the moment: promises recorded before it, payments before it.
    past_only = Ledger.from_frames(
        invoices=ledger.invoices.assign(
            settled_date=lambda f: f["settled_date"].where(f["settled_date"] < moment)
        ),
        customers=ledger.customers,
        promises=promises[promises["recorded_date"] < moment],
    )
    columns = ["broken_promises", "broken_promise_share"]
    expected = build_features(past_only, invoice)[columns]
    pdt.assert_frame_equal(build_features(ledger, invoice)[columns], expected)
    # The live path (one customer's part of the ledger) agrees.
    customer = invoice["customer_id"].iloc[0]
    live = build_features(ledger.for_customers([customer]), invoice)[columns]
    pdt.assert_frame_equal(live, expected)
