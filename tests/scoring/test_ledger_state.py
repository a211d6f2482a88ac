"""The scoring service's ledger snapshot answers exactly as the database would, or steps aside."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.scoring.conftest import Scoring

from latepay.db.tables import Dispute, EconomicIndicator, Invoice, IssuedRevision
from latepay.features import Ledger, build_features, load_ledger
from latepay.ingest import import_mapping
from latepay.scoring import ledger_state
from latepay.scoring.issuance import canonical_records, invoice_frame, issue_invoices
from latepay.scoring.ledger_state import LedgerState
from latepay.synthetic import generate_ledger

TIERS = (0.25, 0.5, 0.75)


@pytest.fixture
def stored(engine: Engine, tmp_path: Path) -> Engine:
    """A small generated ledger in a database of each kind."""
    generate_ledger(tmp_path / "ledger", customers=6, seed=5, months=18)
    assert import_mapping(engine, tmp_path / "ledger" / "mapping.yaml").ok
    return engine


def requests_for(engine: Engine, day: pd.Timestamp, prefix: str) -> pd.DataFrame:
    """One new invoice per customer, issued on ``day``, as the API canonicalises them."""
    customers = sorted(load_ledger(engine).customers["customer_id"])
    records = [
        {
            "invoice_id": f"{prefix}-{customer}",
            "customer_id": customer,
            "issue_date": day,
            "payment_terms_days": 30,
            "amount": 1500.0,
            "currency": "EUR",
            "payment_method": "bank_transfer",
            "channel": "electronic",
            "features": {"po_number_required": True},
        }
        for customer in customers
    ]
    return invoice_frame(canonical_records(records))


def from_database(engine: Engine, queries: pd.DataFrame) -> pd.DataFrame:
    """What a fresh read of the group's customers gives: the answer the snapshot must match."""
    ledger = load_ledger(engine, customer_ids=queries["customer_id"].unique())
    return build_features(ledger, queries)


def a_state(engine: Engine) -> tuple[LedgerState, list[str]]:
    sources: list[str] = []
    state = LedgerState(engine, on_group=sources.append)
    state.refresh(grace_days=0)
    return state, sources


def issue(engine: Engine, model, group: pd.DataFrame, state: LedgerState) -> None:
    (result,) = issue_invoices(
        engine,
        model,
        [group.drop(columns="row_hash").to_dict("records")],
        tier_cutoffs=TIERS,
        ledger_state=state,
    )
    assert all(result.created)


def test_a_current_snapshot_answers_as_the_database_does(stored: Engine) -> None:
    state, sources = a_state(stored)
    queries = requests_for(stored, load_ledger(stored).as_of + pd.Timedelta(days=3), "Q")
    features = state.features(queries, grace_days=0)
    assert sources == ["snapshot"]
    pdt.assert_frame_equal(features, from_database(stored, queries))


def test_a_change_by_another_writer_sends_its_customer_to_the_database(stored: Engine) -> None:
    state, sources = a_state(stored)
    as_of = load_ledger(stored).as_of
    queries = requests_for(stored, as_of + pd.Timedelta(days=3), "Q")
    before = state.features(queries, grace_days=0)
    customer = queries["customer_id"].iloc[0]
    with stored.begin() as connection:
        connection.execute(
            sa.insert(Dispute).values(
                dispute_id="D-NEW", customer_id=customer, opened_date=as_of.date(), row_hash="d"
            )
        )
    after = state.features(queries, grace_days=0)
    assert sources == ["snapshot", "database"]
    pdt.assert_frame_equal(after, from_database(stored, queries))
    assert after["disputes_count"].iloc[0] == before["disputes_count"].iloc[0] + 1


def test_new_indicators_send_every_customer_to_the_database(stored: Engine) -> None:
    state, sources = a_state(stored)
    as_of = load_ledger(stored).as_of
    with stored.begin() as connection:
        connection.execute(
            sa.insert(EconomicIndicator).values(
                name="activity", key="", period=as_of.date(), value=1.0, row_hash="e"
            )
        )
    state.features(requests_for(stored, as_of + pd.Timedelta(days=40), "Q"), grace_days=0)
    assert sources == ["database"]


def test_its_own_invoices_keep_the_snapshot_until_the_day_they_count(
    stored: Engine, scoring: Scoring
) -> None:
    """Invoices the service stores count from the day after their issue: on their own day
    the snapshot still answers, the next day the database does, and both match a fresh read."""
    state, sources = a_state(stored)
    day = load_ledger(stored).as_of + pd.Timedelta(days=3)
    for prefix in ("A", "B"):
        issue(stored, scoring.model, requests_for(stored, day, prefix), state)
    assert sources == ["snapshot", "snapshot"]

    same_day = requests_for(stored, day, "C")
    features = state.features(same_day, grace_days=0)
    assert sources[-1] == "snapshot"
    pdt.assert_frame_equal(features, from_database(stored, same_day))

    next_day = requests_for(stored, day + pd.Timedelta(days=1), "D")
    features = state.features(next_day, grace_days=0)
    assert sources[-1] == "database"
    pdt.assert_frame_equal(features, from_database(stored, next_day))
    on_the_day = state.features(same_day, grace_days=0)
    # The two invoices stored on the day are history from the next day on.
    assert (features["customer_invoice_count"] == on_the_day["customer_invoice_count"] + 2).all()


def test_another_server_process_s_invoices_keep_this_one_s_snapshot_current(
    stored: Engine, scoring: Scoring
) -> None:
    """Two processes, each with its snapshot: one's invoices at issuance, stepped over from
    the recorded steps, keep the other answering from its snapshot on their day."""
    this, sources = a_state(stored)
    other, _ = a_state(stored)
    day = load_ledger(stored).as_of + pd.Timedelta(days=3)
    issue(stored, scoring.model, requests_for(stored, day, "A"), other)
    issue(stored, scoring.model, requests_for(stored, day, "B"), other)

    same_day = requests_for(stored, day, "C")
    features = this.features(same_day, grace_days=0)
    assert sources == ["snapshot"]
    pdt.assert_frame_equal(features, from_database(stored, same_day))
    next_day = requests_for(stored, day + pd.Timedelta(days=1), "D")
    this.features(next_day, grace_days=0)
    assert sources[-1] == "database"


def test_another_writer_between_the_check_and_its_own_write_is_not_overlooked(
    stored: Engine, scoring: Scoring
) -> None:
    """An import stores an earlier invoice of a customer, then the service stores one at
    issuance: the recorded step covers only the service's own, so the gap sends the customer
    to the database."""
    state, sources = a_state(stored)
    day = load_ledger(stored).as_of + pd.Timedelta(days=3)
    group = requests_for(stored, day, "A").iloc[[0]]
    state.features(group, grace_days=0)
    columns = ["invoice_id", "customer_id", "issue_date", "due_date", "amount", "row_hash"]
    row = group[columns].iloc[0].to_dict()
    earlier = {
        **row,
        "invoice_id": "IMPORTED",
        "issue_date": (day - pd.Timedelta(days=5)).date(),
        "due_date": row["due_date"].date(),
    }
    with stored.begin() as connection:
        connection.execute(sa.insert(Invoice).values(earlier))
    issue(stored, scoring.model, group, state)

    later = requests_for(stored, day, "B").iloc[[0]]
    features = state.features(later, grace_days=0)
    assert sources[-1] == "database"
    pdt.assert_frame_equal(features, from_database(stored, later))
    assert features["customer_invoice_count"].iloc[0] == (
        state._snapshot.prepared.features(later)["customer_invoice_count"].iloc[0] + 1
    )


def test_a_step_is_exactly_the_invoices_stored_with_it(stored: Engine, scoring: Scoring) -> None:
    """Two invoices of one customer in one group are one step of two; a step from a
    revision the snapshot never had is not taken."""
    state, sources = a_state(stored)
    day = load_ledger(stored).as_of + pd.Timedelta(days=3)
    group = requests_for(stored, day, "A").iloc[[0]]
    twice = pd.concat([group, group.assign(invoice_id="A-second")], ignore_index=True)
    customer = group["customer_id"].iloc[0]
    before = state._snapshot.revisions[customer]
    issue(stored, scoring.model, twice, LedgerState(stored, prepare=False))
    with stored.connect() as connection:
        steps = connection.execute(
            sa.select(IssuedRevision.revision_before, IssuedRevision.revision_after).where(
                IssuedRevision.customer_id == customer
            )
        ).all()
    assert steps == [(before, before + 2)]

    state.take_issued_steps([ledger_state.IssuedStep(customer, before + 5, before + 6, 0)])
    assert state._snapshot.revisions[customer] == before
    state.features(group.assign(invoice_id="A-third"), grace_days=0)
    assert sources[-1] == "snapshot"
    assert state._snapshot.revisions[customer] == before + 2


def test_steps_older_than_a_day_are_deleted_when_a_snapshot_is_prepared(stored: Engine) -> None:
    recorded = pd.Timestamp.now(tz="UTC")
    with stored.begin() as connection:
        for name, age in (("old", pd.Timedelta(days=2)), ("new", pd.Timedelta(hours=1))):
            connection.execute(
                sa.insert(IssuedRevision).values(
                    customer_id=name,
                    revision_before=0,
                    revision_after=1,
                    counts_from=recorded.date(),
                    recorded_at=(recorded - age).to_pydatetime(),
                )
            )
    a_state(stored)
    with stored.connect() as connection:
        left = connection.scalars(sa.select(IssuedRevision.customer_id)).all()
    assert left == ["new"]


@pytest.mark.parametrize("first", [False, True], ids=["a-new-one", "the-first-one"])
def test_its_own_invoices_stored_while_a_snapshot_is_prepared_keep_it_current(
    stored: Engine, scoring: Scoring, monkeypatch: pytest.MonkeyPatch, first: bool
) -> None:
    """Under steady load the service stores invoices while it reads the ledger for a new
    snapshot, or for its first one; the snapshot must not start out stale for all their
    customers."""
    sources: list[str] = []
    state = LedgerState(stored, on_group=sources.append)
    if not first:
        state.refresh(grace_days=0)
    day = load_ledger(stored).as_of + pd.Timedelta(days=3)
    real_load = ledger_state.load_ledger

    def store_while_reading(engine: Engine, **kwargs) -> Ledger:
        if "customer_ids" not in kwargs:
            issue(stored, scoring.model, requests_for(stored, day, "MEANWHILE"), state)
        return real_load(engine, **kwargs)

    monkeypatch.setattr(ledger_state, "load_ledger", store_while_reading)
    state.refresh(grace_days=0)
    same_day = requests_for(stored, day, "AFTER")
    features = state.features(same_day, grace_days=0)
    assert sources[-1] == "snapshot"
    pdt.assert_frame_equal(features, from_database(stored, same_day))
