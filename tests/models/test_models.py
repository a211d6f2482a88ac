from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from latepay.errors import InputError, NotEnoughDataError
from latepay.features import Ledger, build_features
from latepay.features.labels import DEFAULT_SPEC
from latepay.models.base import TrainingData
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


def _flipped_relation(rng: np.random.Generator, days: int, flip_day: int) -> TrainingData:
    """Invoices whose lateness follows ``x > 0`` until ``flip_day``, then ``x < 0``."""
    n = 5000
    issue_days = np.sort(rng.integers(0, days, n))
    x = rng.normal(0.0, 1.0, n)
    signal = np.where(issue_days < flip_day, x, -x)
    is_late = (signal + rng.normal(0.0, 0.5, n) > 0).astype(int)
    return TrainingData(
        features=pd.DataFrame({"x": x, "noise": rng.normal(0.0, 1.0, n)}),
        is_late=is_late,
        bucket=is_late.copy(),
        days_late=np.where(is_late == 1, 10.0, -3.0),
        issue_dates=pd.Series(pd.Timestamp("2023-01-01") + pd.to_timedelta(issue_days, "D")),
        categorical=[],
        spec=DEFAULT_SPEC,
    )


def test_recency_weighting_follows_a_relation_that_flipped() -> None:
    rng = np.random.default_rng(5)
    data = _flipped_relation(rng, days=800, flip_day=600)
    newest = _flipped_relation(rng, days=800, flip_day=0)  # fresh invoices of the new regime
    auc = {}
    for half_life in (None, 30.0):
        model = GradientBoostingLateModel(n_estimators=100, recency_half_life_days=half_life)
        fitted = model.fit(data)
        auc[half_life] = roc_auc_score(newest.is_late, fitted.predict_proba_late(newest.features))
    # Unweighted, the 600 old days outvote the 200 new ones; weighted, the new relation wins.
    assert auc[None] <= 0.5
    assert auc[30.0] > 0.85
    assert fitted.get_params()["recency_half_life_days"] == 30.0


def test_recency_half_life_must_be_positive(data) -> None:
    with pytest.raises(InputError, match="recency_half_life_days"):
        GradientBoostingLateModel(recency_half_life_days=0).fit(data)


def test_secondary_boosters_stop_where_the_newest_slice_stops_improving(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    data = _flipped_relation(rng, days=800, flip_day=800)
    # How late, and in which late bucket, is noise here: nothing to learn beyond the average.
    late = data.is_late == 1
    days_late = np.where(late, rng.integers(1, 60, len(late)), -3).astype(float)
    noisy = TrainingData(
        features=data.features,
        is_late=data.is_late,
        bucket=np.where(late, np.where(days_late > 30, 2, 1), 0),
        days_late=days_late,
        issue_dates=data.issue_dates,
        categorical=[],
        spec=DEFAULT_SPEC,
    )
    model = GradientBoostingLateModel(n_estimators=600).fit(noisy)
    model.save(tmp_path)
    loaded = GradientBoostingLateModel.load(tmp_path)
    # At most 200 rounds each; on noise the newest slice stops them after the patience.
    assert loaded.bucket_booster_.num_trees() < 100
    assert loaded.days_booster_.num_trees() < 100
    assert loaded.late_booster_.num_trees() < 600
    assert np.array_equal(
        loaded.predict_proba_late(data.features), model.predict_proba_late(data.features)
    )
