from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from latepay.errors import InputError, NotEnoughDataError
from latepay.features import Ledger, build_features
from latepay.models.gbm import GradientBoostingLateModel
from latepay.models.seed import SmoteRandomForestModel
from latepay.models.training import make_model, training_data

CUTOFF = pd.Timestamp("2023-06-01")


@pytest.fixture(scope="module")
def data(learnable_ledger: Ledger):
    return training_data(learnable_ledger, cutoff=CUTOFF)


@pytest.fixture(scope="module")
def test_invoices(learnable_ledger: Ledger) -> pd.DataFrame:
    invoices = learnable_ledger.invoices
    return invoices[invoices["issue_date"] >= CUTOFF]


def test_training_uses_only_outcomes_known_before_the_cutoff(data, learnable_ledger) -> None:
    assert (data.issue_dates < CUTOFF).all()
    assert len(data.is_late) < len(learnable_ledger.invoices)


@pytest.mark.parametrize("kind", ["gbm", "seed"])
def test_models_learn_a_real_signal_and_survive_a_round_trip(
    kind: str, data, learnable_ledger, test_invoices, tmp_path: Path
) -> None:
    model = make_model(kind, n_estimators=100).fit(data)
    features = build_features(learnable_ledger, test_invoices)
    settled_late = (test_invoices["settled_date"] > test_invoices["due_date"]).to_numpy()
    outcome = model.predict_outcome(features)
    assert roc_auc_score(settled_late, outcome["p_late"]) > 0.7
    buckets = outcome[["p_on_time", "p_late_1_30", "p_late_31_plus"]].sum(axis=1)
    np.testing.assert_allclose(buckets, 1.0)
    assert (outcome["expected_days_late"] >= 0).all()

    model.save(tmp_path / kind)
    loaded = type(model).load(tmp_path / kind)
    pd.testing.assert_frame_equal(loaded.predict_outcome(features), outcome)
    assert loaded.threshold_ == model.threshold_


def test_gbm_threshold_follows_the_costs(data) -> None:
    cheap_misses = GradientBoostingLateModel(n_estimators=60, cost_missed_late=1.0).fit(data)
    costly_misses = GradientBoostingLateModel(n_estimators=60, cost_missed_late=10.0).fit(data)
    assert costly_misses.threshold_ < cheap_misses.threshold_


def test_gbm_contributions_add_up_to_the_raw_score(data, learnable_ledger, test_invoices) -> None:
    model = GradientBoostingLateModel(n_estimators=60).fit(data)
    features = build_features(learnable_ledger, test_invoices.head(20))
    contributions = model.contributions(features)
    raw = model.late_booster_.predict(model.schema_.apply(features), raw_score=True)
    bias = raw - contributions.sum(axis=1).to_numpy()
    np.testing.assert_allclose(bias, bias[0], atol=1e-9)


def test_too_little_history_is_refused_with_what_is_missing(learnable_ledger) -> None:
    early = training_data(learnable_ledger, cutoff=pd.Timestamp("2022-02-15"))
    with pytest.raises(NotEnoughDataError, match=r"need 100"):
        GradientBoostingLateModel().fit(early)


def test_seed_model_refuses_files_with_untrusted_types(data, tmp_path: Path) -> None:
    model = SmoteRandomForestModel(n_estimators=10).fit(data)
    model.save(tmp_path)
    import skops.io as sio

    sio.dump({"payload": Path("x")}, tmp_path / "pipeline.skops")
    with pytest.raises(InputError, match="does not load"):
        SmoteRandomForestModel.load(tmp_path)


def test_a_model_of_another_kind_is_refused_not_misread(data, tmp_path: Path) -> None:
    GradientBoostingLateModel(n_estimators=20).fit(data).save(tmp_path)
    with pytest.raises(InputError, match="holds a model of kind 'gbm'"):
        SmoteRandomForestModel.load(tmp_path)
