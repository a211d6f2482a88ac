"""gbm trained with LightGBM's Dask estimators is as good as gbm trained on one machine."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from tests.distributed.conftest import MODEL_PARAMS

from latepay.distributed.runs import dataset_default_cutoff, run_backtest_on_dask
from latepay.distributed.training import _early_stopped_rounds, fit_gbm_on_dask
from latepay.errors import InputError
from latepay.evaluation.backtest import default_cutoff, run_backtest
from latepay.evaluation.metrics import classification_metrics
from latepay.features.labels import DEFAULT_SPEC
from latepay.models.gbm import (
    EARLY_STOPPING_MIN_DELTA,
    EARLY_STOPPING_ROUNDS,
    GradientBoostingLateModel,
)

TIERS = (0.25, 0.5, 0.75)


@pytest.mark.slow
def test_dask_training_matches_single_machine_auc_out_of_time(imported, client, tmp_path):
    cutoff = default_cutoff(imported.ledger)
    assert dataset_default_cutoff(imported.dataset, 0.25) == cutoff
    single = run_backtest(
        imported.ledger,
        cutoff=cutoff,
        spec=DEFAULT_SPEC,
        tier_cutoffs=TIERS,
        model_params=MODEL_PARAMS,
    )
    scored = single.predictions.loc[single.outcomes.index, "p_late"].to_numpy()
    single_auc = classification_metrics(
        single.outcomes["is_late"].to_numpy(), scored, single.model.threshold_
    )["roc_auc"]

    on_dask = run_backtest_on_dask(
        client,
        imported.dataset,
        cutoff=cutoff,
        spec=DEFAULT_SPEC,
        tier_cutoffs=TIERS,
        output=tmp_path / "predictions",
        model_params=MODEL_PARAMS,
    )
    # The same out-of-time test set: every invoice issued from the cutoff, same outcomes.
    assert on_dask.scores.scored == len(single.predictions)
    assert on_dask.with_known_outcome == len(single.outcomes)
    assert on_dask.training_rows == single.training_rows
    assert abs(on_dask.metrics["roc_auc"] - single_auc) <= 0.005
    assert on_dask.metrics["roc_auc"] > 0.7

    model = on_dask.model
    assert isinstance(model, GradientBoostingLateModel)
    assert 0 < model.threshold_ < 1
    assert model.schema_ == single.model.schema_
    assert model.profile_ == single.model.profile_
    assert model.calibration_window_ == single.model.calibration_window_
    # Early stopping kept at most the rounds asked for.
    assert model.late_booster_.num_trees() <= MODEL_PARAMS.get("n_estimators", 600)
    model.save(tmp_path / "model")
    loaded = GradientBoostingLateModel.load(tmp_path / "model")
    features = single.model.schema_.columns
    assert loaded.schema_.columns == features


def test_recency_weights_are_refused_on_dask_rather_than_ignored() -> None:
    # Refused before the cluster or the rows are touched, so neither is needed here.
    with pytest.raises(InputError, match="LATEPAY_RECENCY_HALF_LIFE_DAYS"):
        fit_gbm_on_dask(None, None, spec=DEFAULT_SPEC, params={"recency_half_life_days": 90.0})


@pytest.mark.parametrize("objective, metric", [("binary", "auc"), ("regression", "l2")])
def test_the_cut_on_dask_is_where_lightgbm_stops_early(objective, metric) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3_000, 4))
    signal = x[:, 0] + rng.normal(0.0, 2.0, len(x))  # weak: the curve flattens, then turns
    y = (signal > 0).astype(float) if objective == "binary" else signal
    train, valid = lgb.Dataset(x[:2_000], y[:2_000]), lgb.Dataset(x[2_000:], y[2_000:])
    curves: dict = {}
    booster = lgb.train(
        {"objective": objective, "metric": metric, "verbosity": -1, "learning_rate": 0.2},
        train,
        num_boost_round=400,
        valid_sets=[valid],
        callbacks=[
            lgb.record_evaluation(curves),
            lgb.early_stopping(
                EARLY_STOPPING_ROUNDS, verbose=False, min_delta=EARLY_STOPPING_MIN_DELTA
            ),
        ],
    )
    assert booster.best_iteration < 400 - EARLY_STOPPING_ROUNDS
    assert _early_stopped_rounds(curves) == booster.best_iteration
