"""On the cluster, the one feature function and the one scoring path give one machine's answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tests.distributed.conftest import MODEL_PARAMS

from latepay.distributed.features import ROW_COLUMNS, training_rows
from latepay.distributed.scoring import IssuedFrom, OpenAt, score_on_dask
from latepay.evaluation.backtest import default_cutoff
from latepay.features.labels import DEFAULT_SPEC
from latepay.models.training import make_model, training_data
from latepay.scoring import score_invoices
from latepay.scoring.batch import open_invoices

TIERS = (0.25, 0.5, 0.75)
# Each test runs graphs on the two-worker cluster: seconds, not milliseconds.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cutoff(imported) -> pd.Timestamp:
    return default_cutoff(imported.ledger)


@pytest.fixture(scope="module")
def model(imported, cutoff):
    """A gbm fitted on one machine on what was known before the cutoff."""
    data = training_data(imported.ledger, cutoff=cutoff, spec=DEFAULT_SPEC)
    fitted = make_model("gbm", **MODEL_PARAMS, n_estimators=150).fit(data)
    fitted.version_ = "single-machine"
    return fitted


def test_features_equal_the_single_machine_features(imported, client, cutoff):
    expected = training_data(imported.ledger, cutoff=cutoff, spec=DEFAULT_SPEC)
    rows = training_rows(imported.dataset, cutoff=cutoff, spec=DEFAULT_SPEC).compute()
    # training_data's order: by issue date, then invoice id.
    rows = rows.sort_values(["issue_date", "invoice_id"]).reset_index(drop=True)
    features = rows.drop(columns=list(ROW_COLUMNS))
    assert list(features.columns) == list(expected.features.columns)
    assert features.dtypes.to_dict() == expected.features.dtypes.to_dict()
    pd.testing.assert_frame_equal(features, expected.features, check_exact=True)
    assert (rows["is_late"].to_numpy() == expected.is_late).all()
    assert (rows["bucket"].to_numpy() == expected.bucket).all()
    np.testing.assert_array_equal(rows["days_late"].to_numpy(), expected.days_late)
    assert len(rows) > 30_000


def test_scores_equal_the_single_machine_scores(imported, client, cutoff, model):
    ledger = imported.ledger
    tested = ledger.invoices[(ledger.invoices["issue_date"] >= cutoff)]
    tested = tested[~tested["is_credit_note"]]
    expected = score_invoices(model, ledger, tested, tier_cutoffs=TIERS, reasons=0)
    scored = score_on_dask(
        model, imported.dataset, IssuedFrom(cutoff), tier_cutoffs=TIERS
    ).compute()
    scored = scored.set_index("invoice_id").loc[expected["invoice_id"]].reset_index()
    _assert_same_scores(scored, expected)


def test_open_invoices_score_as_on_one_machine_with_reasons(imported, client, model):
    ledger = imported.ledger
    as_of = imported.dataset.as_of
    invoices = open_invoices(ledger, as_of)
    expected = score_invoices(
        model,
        ledger,
        invoices,
        moments=pd.Series(as_of, index=invoices.index),
        tier_cutoffs=TIERS,
        reasons=2,
    )
    scored = score_on_dask(
        model, imported.dataset, OpenAt(as_of), tier_cutoffs=TIERS, reasons=2
    ).compute()
    assert len(scored) == len(expected) > 100
    scored = scored.set_index("invoice_id").loc[expected["invoice_id"]].reset_index()
    _assert_same_scores(scored, expected)
    assert [json.loads(text) for text in scored["reasons"]] == list(expected["reasons"])


def _assert_same_scores(scored: pd.DataFrame, expected: pd.DataFrame) -> None:
    numeric = [c for c in expected.columns if c.startswith("p_") or c == "expected_days_late"]
    assert numeric and "p_late" in numeric
    np.testing.assert_allclose(
        scored[numeric].to_numpy(), expected[numeric].to_numpy(), rtol=0, atol=1e-9
    )
    assert list(scored["risk_tier"]) == list(expected["risk_tier"])
    assert list(scored["inputs_hash"]) == list(expected["inputs_hash"])
    assert set(scored["model_version"]) == {"single-machine"}
