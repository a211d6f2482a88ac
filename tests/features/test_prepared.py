"""A ledger prepared once answers every later question as a fresh build would."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.features.test_point_in_time import random_ledger

from latepay.features import Ledger, build_features
from latepay.features.build import PreparedLedger


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), moment_shift=st.integers(-30, 400))
def test_asked_again_and_again_it_answers_like_a_build_of_only_those_customers(
    seed: int, moment_shift: int
) -> None:
    ledger = random_ledger(seed, customers=6)
    prepared = PreparedLedger(ledger, grace_days=3)
    invoices = ledger.invoices
    moments = invoices["issue_date"] + pd.Timedelta(days=moment_shift)
    for customers in (["C0"], ["C1", "C4"], ["C5", "C2", "C3"]):
        mine = invoices["customer_id"].isin(customers)
        pdt.assert_frame_equal(
            prepared.features(invoices[mine], moments=moments[mine]),
            build_features(
                ledger.for_customers(customers),
                invoices[mine],
                moments=moments[mine],
                grace_days=3,
            ),
        )


def test_a_customer_it_never_saw_reads_like_one_on_file_with_nothing_recorded() -> None:
    ledger = random_ledger(11)
    newcomer = ledger.invoices.iloc[[0, 1]].assign(customer_id="NEW", invoice_id=["N1", "N2"])
    on_file = Ledger.from_frames(
        invoices=ledger.invoices,
        customers=pd.concat(
            [ledger.customers, pd.DataFrame({"customer_id": ["NEW"]})], ignore_index=True
        ),
        disputes=ledger.disputes,
        interactions=ledger.interactions,
        indicators=ledger.indicators,
    )
    # Late enough that every customer on file has a history by then.
    moments = newcomer["issue_date"] + pd.Timedelta(days=400)
    never_seen = PreparedLedger(ledger).features(newcomer, moments=moments)
    pdt.assert_frame_equal(never_seen, PreparedLedger(on_file).features(newcomer, moments=moments))
    assert (never_seen[["hist_paid_count", "open_count", "disputes_count"]] == 0).all().all()
    assert never_seen["hist_late_ratio"].isna().all()
    assert never_seen["customer_tenure_days"].isna().all()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_an_invoice_asked_alone_reads_as_its_row_among_many(seed: int) -> None:
    """A few ids are looked up one by one and many by an indexer: the two agree, for
    customers on file and not, with and without a payment method or channel."""
    ledger = random_ledger(seed, customers=5)
    queries = ledger.invoices.sample(30, random_state=seed).reset_index(drop=True)
    queries.loc[[0, 7], "customer_id"] = "NOT-ON-FILE"
    queries.loc[[3, 8], "channel"] = None
    prepared = PreparedLedger(ledger, grace_days=2)
    moments = queries["issue_date"] + pd.Timedelta(days=45)

    together = prepared.features(queries, moments=moments)

    for row in range(len(queries)):
        alone = prepared.features(queries.iloc[[row]], moments=moments.iloc[[row]])
        pdt.assert_frame_equal(alone, together.iloc[[row]])
