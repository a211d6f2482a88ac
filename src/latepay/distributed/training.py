"""The ``gbm`` model trained with LightGBM's Dask estimators, in the registry's format.

It mirrors :meth:`latepay.models.gbm.GradientBoostingLateModel.fit` step by step, with the same
parameters, so the result is an ordinary fitted ``gbm`` model that the API and ``latepay
score`` load like any other:

- the newest ``calibration_fraction`` of the training window (split on a whole issue day, as on
  one machine) is held out; the P(late) booster is trained on the rest by
  :class:`lightgbm.DaskLGBMClassifier` with the same class weight;
- early stopping: LightGBM's Dask interface cannot stop early (workers would stop at different
  rounds), so all rounds are trained with the calibration slice as evaluation set and the
  booster is cut at the round :func:`lightgbm.early_stopping` (the same patience and margin)
  would have kept. Each worker evaluates its own share of that slice; the curve used is the
  one of the worker whose model is returned, a large random share of the slice (buckets are
  customer hashes);
- calibration and the decision threshold need every raw score of the calibration slice at
  once: those scores (one float per invoice) and labels are collected here, on the driver,
  where the calibrator and threshold are fitted exactly as on one machine;
- the bucket and days-late boosters are trained by the Dask estimators on their rows before
  the split and cut the same way on their rows after it.

Category levels and the lateness profile are counted on the cluster and on the collected
labels with the same rules as :class:`~latepay.models.schema.FeatureSchema` and
:class:`~latepay.models.base.LatenessProfile`.
"""

from __future__ import annotations

import hashlib
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass

import dask
import dask.dataframe as dd
import lightgbm as lgb
import numpy as np
import pandas as pd

from distributed import Client
from latepay.distributed.features import ROW_COLUMNS
from latepay.errors import InputError
from latepay.evaluation.metrics import choose_threshold
from latepay.features import LabelSpec, categorical_features
from latepay.models.base import LatenessProfile, TrainingData
from latepay.models.calibration import Calibrator
from latepay.models.gbm import (
    EARLY_STOPPING_MIN_DELTA,
    EARLY_STOPPING_ROUNDS,
    GradientBoostingLateModel,
    SecondaryQuestion,
    _time_split,
)
from latepay.models.schema import MIN_CATEGORY_COUNT, OTHER, FeatureSchema

# Metrics LightGBM maximises; the others (log loss, l2) it minimises.
HIGHER_IS_BETTER = {"auc"}


def fit_gbm_on_dask(
    client: Client, rows: dd.DataFrame, *, spec: LabelSpec, params: dict | None = None
) -> GradientBoostingLateModel:
    """Fit a ``gbm`` model on training rows spread over a cluster.

    Parameters
    ----------
    client : Client
    rows : dask DataFrame
        From :func:`latepay.distributed.features.training_rows`.
    spec : LabelSpec
        How the rows were labelled.
    params : dict, optional
        :class:`~latepay.models.gbm.GradientBoostingLateModel` parameters.

    Returns
    -------
    GradientBoostingLateModel
        Fitted, ready for :meth:`~latepay.models.registry.ModelRegistry.register`.
    """
    started = time.perf_counter()
    model = GradientBoostingLateModel(**(params or {}))
    if model.recency_half_life_days is not None:
        raise InputError(
            "recency_half_life_days (LATEPAY_RECENCY_HALF_LIFE_DAYS) is not supported on Dask "
            "yet; unset it to train with --dask"
        )
    rows = client.persist(rows)
    labels = _labels(rows, spec)
    labels.check_enough()
    model.spec_ = spec
    model.profile_ = LatenessProfile.observe(labels)
    model.schema_ = _learn_schema(rows)
    split_day = labels.issue_dates.iloc[_time_split(labels, model.calibration_fraction)]
    x_fit, y_fit = _model_input(rows, model.schema_, _Rows(slice(None, split_day), "is_late"))
    x_cal, y_cal = _model_input(rows, model.schema_, _Rows(slice(split_day, None), "is_late"))

    fit_labels = labels.is_late[labels.issue_dates.to_numpy() < split_day]
    positives = max(int(fit_labels.sum()), 1)
    late = _estimator(
        lgb.DaskLGBMClassifier,
        client,
        model._lgb_params(
            "binary", scale_pos_weight=(len(fit_labels) - positives) / positives, metric="auc"
        ),
        rounds=model.n_estimators,
    )
    with _lightgbm_on_dask(client):
        late.fit(x_fit, y_fit, eval_X=(x_cal,), eval_y=(y_cal,))
    model.late_booster_ = _cut(late.booster_, _early_stopped_rounds(late.evals_result_))

    raw, y_true = dask.compute(
        x_cal.map_partitions(_raw_scores, model.late_booster_, meta=(None, float)), y_cal
    )
    model.calibrator_ = Calibrator.fit(raw.to_numpy(), y_true.to_numpy(), model.calibration_method)
    model.threshold_ = float(
        choose_threshold(
            y_true.to_numpy(),
            model.calibrator_.transform(raw.to_numpy()),
            cost_missed_late=model.cost_missed_late,
            cost_needless_reminder=model.cost_needless_reminder,
        )
    )
    model.bucket_booster_ = _fit_secondary(
        client,
        model,
        rows,
        labels,
        split_day,
        model.bucket_question(labels),
        lgb.DaskLGBMClassifier,
        "late_bucket",
    )
    model.days_booster_ = _fit_secondary(
        client,
        model,
        rows,
        labels,
        split_day,
        model.days_question(labels),
        lgb.DaskLGBMRegressor,
        "log_days_late",
    )
    calibration_days = labels.issue_dates[labels.issue_dates >= split_day]
    model.calibration_window_ = (
        calibration_days.iloc[0].date().isoformat(),
        calibration_days.iloc[-1].date().isoformat(),
    )
    model.training_seconds_ = time.perf_counter() - started
    return model


def rows_fingerprint(rows: dd.DataFrame) -> str:
    """SHA-256 of the training rows (features and labels), whatever their partitioning.

    Unlike :func:`latepay.models.training.data_fingerprint` it hashes the sorted row hashes,
    so it does not depend on the order in which partitions hold the rows.
    """
    hashes = rows.map_partitions(
        lambda part: pd.util.hash_pandas_object(part, index=False), meta=(None, np.uint64)
    ).compute()
    return hashlib.sha256(np.sort(hashes.to_numpy()).tobytes()).hexdigest()


def _features(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.drop(columns=list(ROW_COLUMNS))


def _labels(rows: dd.DataFrame, spec: LabelSpec) -> TrainingData:
    """The labels of every row, in issue order, on the driver (no features: only labels)."""
    labels = rows[["issue_date", "is_late", "bucket", "days_late"]].compute()
    labels = labels.sort_values("issue_date", kind="stable").reset_index(drop=True)
    return TrainingData(
        features=pd.DataFrame(index=labels.index),
        is_late=labels["is_late"].to_numpy(),
        bucket=labels["bucket"].to_numpy(),
        days_late=labels["days_late"].to_numpy(dtype=float),
        issue_dates=labels["issue_date"],
        categorical=[],
        spec=spec,
    )


def _learn_schema(rows: dd.DataFrame) -> FeatureSchema:
    """:meth:`FeatureSchema.learn` with the category levels counted on the cluster."""
    features = _features(rows._meta)
    categorical = categorical_features(features)
    # Counted per partition and added up here: a Dask value_counts would shuffle the rows.
    per_partition = rows.map_partitions(
        lambda part: [_level_counts(part[column]) for column in categorical], meta=(None, object)
    )
    counts = [
        pd.concat(column).groupby(level=0).sum()
        for column in zip(*per_partition.compute(), strict=True)
    ]
    levels = {
        column: (*sorted(count[count >= MIN_CATEGORY_COUNT].index), OTHER)
        for column, count in zip(categorical, counts, strict=True)
    }
    return FeatureSchema(
        numeric=tuple(c for c in features.columns if c not in levels), categorical=levels
    )


def _level_counts(values: pd.Series) -> pd.Series:
    return values.dropna().astype(str).value_counts()


def _estimator(estimator_class, client: Client, params: dict, *, rounds: int):
    """A Dask LightGBM estimator with the single-machine parameters.

    Each worker uses its own threads (``num_threads`` is left to the worker's thread count).
    """
    native = {name: value for name, value in params.items() if name != "num_threads"}
    return estimator_class(client=client, n_estimators=rounds, tree_learner="data", **native)


def _early_stopped_rounds(evals_result: dict) -> int:
    """The rounds :func:`lightgbm.early_stopping` would keep on this evaluation curve."""
    ((metric, curve),) = (item for metrics in evals_result.values() for item in metrics.items())
    sign = 1.0 if metric in HIGHER_IS_BETTER else -1.0
    best_round, best_score = 0, sign * curve[0]
    for position, score in enumerate(curve):
        if sign * score > best_score + EARLY_STOPPING_MIN_DELTA:
            best_round, best_score = position, sign * score
        elif position - best_round >= EARLY_STOPPING_ROUNDS:
            break
    return best_round + 1


def _cut(booster: lgb.Booster, rounds: int) -> lgb.Booster:
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=rounds))


def _raw_scores(x: pd.DataFrame, booster: lgb.Booster) -> pd.Series:
    return pd.Series(booster.predict(x) if len(x) else np.empty(0), index=x.index)


def _fit_secondary(
    client: Client,
    model: GradientBoostingLateModel,
    rows: dd.DataFrame,
    labels: TrainingData,
    split_day: pd.Timestamp,
    question: SecondaryQuestion | None,
    estimator_class,
    target: str,
) -> lgb.Booster | None:
    """As ``GradientBoostingLateModel._fit_secondary``: trained on the ``target`` rows before
    ``split_day``, cut where the rows from it stop improving (when there are enough of them)."""
    if question is None:
        return None
    x_fit, y_fit = _model_input(rows, model.schema_, _Rows(slice(None, split_day), target))
    estimator = _estimator(estimator_class, client, question.params, rounds=question.rounds)
    if not question.validated(question.rows[labels.issue_dates.to_numpy() >= split_day]):
        with _lightgbm_on_dask(client):
            return estimator.fit(x_fit, y_fit).booster_
    x_cal, y_cal = _model_input(rows, model.schema_, _Rows(slice(split_day, None), target))
    with _lightgbm_on_dask(client):
        estimator.fit(x_fit, y_fit, eval_X=(x_cal,), eval_y=(y_cal,))
    return _cut(estimator.booster_, _early_stopped_rounds(estimator.evals_result_))


@dataclass(frozen=True)
class _Rows:
    """Which training rows a booster learns from, and its target.

    ``days`` selects by issue day (``slice(start, stop)``, stop excluded); ``target`` is
    ``is_late``, ``late_bucket`` (rows whose late bucket is decided, counted from 0) or
    ``log_days_late`` (late rows whose days late are known, on log1p scale).
    """

    days: slice
    target: str

    def __call__(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        issue = rows["issue_date"]
        keep = np.ones(len(rows), dtype=bool)
        if self.days.start is not None:
            keep &= (issue >= self.days.start).to_numpy()
        if self.days.stop is not None:
            keep &= (issue < self.days.stop).to_numpy()
        if self.target == "is_late":
            target = rows["is_late"]
        elif self.target == "late_bucket":
            keep &= (rows["bucket"] >= 1).to_numpy()
            target = rows["bucket"] - 1
        else:
            keep &= ((rows["is_late"] == 1) & rows["days_late"].notna()).to_numpy()
            target = np.log1p(rows["days_late"])
        return rows[keep], target[keep]


def _model_input(
    rows: dd.DataFrame, schema: FeatureSchema, which: _Rows
) -> tuple[dd.DataFrame, dd.Series]:
    """Features (as the model sees them) and target of the selected rows, partitions aligned.

    Both come from the same partitions of ``rows``, so LightGBM can pair them part by part
    without Dask aligning (shuffling) two frames of unknown divisions.
    """
    x_meta = schema.apply(_features(rows._meta))
    x = rows.map_partitions(lambda part: schema.apply(_features(which(part)[0])), meta=x_meta)
    y = rows.map_partitions(lambda part: which(part)[1], meta=(which.target, float))
    return x, y


@contextmanager
def _lightgbm_on_dask(client: Client) -> Iterator[None]:
    """Around a Dask LightGBM fit: its chatter goes to stderr, and its expected warning away.

    The Dask interface prints "Finding random open ports" here (stdout is for results), and
    it replaces the ``n_jobs`` the scikit-learn wrapper always passes with each worker's
    thread count, warning that it did.
    """
    with warnings.catch_warnings(), redirect_stdout(sys.stderr):
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        yield
