"""Credit terms per segment, their effect checked against what-if scores computed apart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latepay.actions.credit_terms import (
    DEPOSIT_SHARE,
    MIN_METHOD_INVOICES,
    TERMS_BY_SEGMENT,
    best_payment_method,
    recommend_credit_terms,
)
from latepay.config import Settings
from latepay.db import make_engine, upgrade_to_head
from latepay.features import Ledger, load_ledger
from latepay.ingest import import_mapping
from latepay.learning.train import train_and_register
from latepay.models.registry import ModelRegistry
from latepay.models.training import make_model, training_data
from latepay.scoring.batch import score_open_invoices
from latepay.scoring.score import score_invoices
from latepay.synthetic import generate_ledger

SETTINGS = Settings()
LATEPAY = shutil.which("latepay") or str(Path(sys.executable).with_name("latepay"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    folder = tmp_path_factory.mktemp("credit_terms")
    generate_ledger(folder / "ledger", customers=12, seed=3)
    engine = make_engine(f"sqlite:///{folder / 'latepay.db'}")
    upgrade_to_head(engine)
    assert import_mapping(engine, folder / "ledger" / "mapping.yaml").ok
    ledger = load_ledger(engine)
    model = make_model("gbm", n_estimators=20).fit(training_data(ledger, cutoff=ledger.as_of))
    model.version_ = "gbm-test"
    score_open_invoices(
        engine,
        model,
        ledger,
        as_of=ledger.as_of,
        tier_cutoffs=SETTINGS.risk_tier_cutoffs,
        output=folder / "scores.csv",
    )
    yield engine, ledger, model
    engine.dispose()


def test_the_best_payment_method_is_the_one_paid_late_least_often() -> None:
    n = MIN_METHOD_INVOICES
    due = pd.Timestamp("2024-01-31")
    frame = pd.DataFrame(
        {
            # card: 1 late in n; transfer: 0 late but too few to judge; cheque: half late.
            "payment_method": ["card"] * n + ["transfer"] * (n - 1) + ["cheque"] * n,
            "due_date": due,
            "settled_date": [due + pd.Timedelta(days=5)]
            + [due] * (2 * n - 2)
            + [due + pd.Timedelta(days=9 * (i % 2)) for i in range(n)],
            "is_credit_note": False,
        }
    )
    assert best_payment_method(frame, pd.Timestamp("2024-03-01").date()) == "card"
    # Before the payments were made nothing is known.
    assert best_payment_method(frame, due.date()) is None
    # Without the card invoices, cheque (half late) is the only method with enough of them.
    cheques_only = frame[frame["payment_method"] != "card"]
    assert best_payment_method(cheques_only, pd.Timestamp("2024-03-01").date()) == "cheque"
    # With 9 grace days no cheque was late either, and cheque is the larger record.
    assert best_payment_method(cheques_only, pd.Timestamp("2024-03-01").date(), grace_days=9) == (
        "cheque"
    )


def test_terms_follow_the_segment_and_their_effect_is_the_what_if_score(world) -> None:
    engine, ledger, model = world
    as_of = ledger.as_of.date()
    proposals = recommend_credit_terms(engine, model, ledger, as_of=as_of, settings=SETTINGS)
    assert proposals
    assert len({p.segment for p in proposals}) >= 2
    order = list(reversed(list(TERMS_BY_SEGMENT)))
    assert [order.index(p.segment) for p in proposals] == sorted(
        order.index(p.segment) for p in proposals
    )
    for proposal in proposals:
        kinds = [change.kind for change in proposal.changes]
        assert set(kinds) <= set(TERMS_BY_SEGMENT[proposal.segment])
        if proposal.segment == "reliable":
            assert kinds == []
            assert proposal.p_late_proposed is None
        if proposal.segment == "critical":
            assert kinds[0] == "deposit"
            assert kinds[-1] == "credit_limit"
            assert proposal.changes[-1].p_late_after is None  # a limit is not scored
        _check_against_scores(proposal, ledger, model)


def _check_against_scores(proposal, ledger: Ledger, model) -> None:
    """P(late) now and with a deposit, scored directly with score_invoices."""
    mine = ledger.for_customers([proposal.customer_id])
    invoices = mine.invoices.set_index("invoice_id", drop=False).loc[proposal.invoices_scored]
    now = score_invoices(model, mine, invoices, tier_cutoffs=SETTINGS.risk_tier_cutoffs)
    assert proposal.p_late_now == pytest.approx(now["p_late"].mean())
    deposit = [c for c in proposal.changes if c.kind == "deposit"]
    if deposit:
        smaller = invoices.assign(amount=invoices["amount"] * (1 - DEPOSIT_SHARE))
        after = score_invoices(model, mine, smaller, tier_cutoffs=SETTINGS.risk_tier_cutoffs)
        assert deposit[0].p_late_after == pytest.approx(after["p_late"].mean())
    for change in proposal.changes:
        if change.p_late_after is not None:
            assert 0 <= change.p_late_after <= 1
    assert proposal.p_late_proposed is None or np.isfinite(proposal.p_late_proposed)


def test_one_customer_only(world) -> None:
    engine, ledger, model = world
    as_of = ledger.as_of.date()
    everyone = recommend_credit_terms(engine, model, ledger, as_of=as_of, settings=SETTINGS)
    first = everyone[0]
    (only,) = recommend_credit_terms(
        engine, model, ledger, as_of=as_of, settings=SETTINGS, customer_ids=[first.customer_id]
    )
    assert only == first


def test_latepay_credit_terms_prints_the_champions_proposals(world, tmp_path) -> None:
    engine, ledger, _ = world
    settings = Settings(model_dir=tmp_path / "models")
    champion = train_and_register(engine, ledger, settings, kind="gbm").version
    as_of = ledger.as_of.date()
    expected = recommend_credit_terms(
        engine,
        ModelRegistry(settings.model_dir, engine).load(champion),
        ledger,
        as_of=as_of,
        settings=settings,
    )
    customer = expected[0].customer_id
    command = [LATEPAY, "--db", str(engine.url), "--json", "credit-terms"]
    result = subprocess.run(
        [*command, "--as-of", f"{as_of}", "--customer", customer],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LATEPAY_MODEL_DIR": str(settings.model_dir)},
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["as_of"] == f"{as_of}"
    assert [p["customer_id"] for p in printed["proposals"]] == [customer]
    assert printed["proposals"][0] == json.loads(json.dumps(expected[0].to_dict(), default=str))
