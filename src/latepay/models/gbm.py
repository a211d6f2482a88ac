"""``gbm``, the default model: LightGBM, calibrated on a later time slice.

Three boosters answer three questions:

- P(late): a binary classifier with the minority class up-weighted, early-stopped and then
  calibrated on the newest slice of the training window (never on shuffled rows: the model
  will be used on the future, so it is tuned on the most recent past);
- P(bucket | late): which late bucket a late invoice falls into (binary for the default two
  buckets, multiclass beyond); where a bucket has too few examples, the observed shares;
- days late given late: a regressor on log days, for the expected delay.

All three learn from the older part of the training window and stop adding trees once the
newest slice stops improving by a margin: trees past that point cost prediction time (every
score walks every tree) and, for the two questions about late invoices, overfit.

The decision threshold minimises a cost (a missed late invoice vs. a needless reminder) on the
calibration slice and is part of the model. Everything is saved as LightGBM text models plus
JSON: nothing is pickled.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from latepay.errors import InputError
from latepay.evaluation.metrics import choose_threshold
from latepay.models import compiled
from latepay.models.base import MIN_PER_CLASS, LatenessProfile, TrainingData, outcome_frame
from latepay.models.calibration import Calibrator
from latepay.models.schema import FeatureSchema
from latepay.models.state import read_model_state, write_model_state

FORMAT_VERSION = 1

# Boosting stops when the newest slice's metric has not improved by EARLY_STOPPING_MIN_DELTA
# for EARLY_STOPPING_ROUNDS rounds. Without the margin, P(late) kept creeping up by 1e-5 of
# ROC AUC per round on a 1M-invoice ledger and used all 600 rounds; out of time, its ROC AUC
# was the same from about 300 rounds on.
EARLY_STOPPING_ROUNDS = 50
EARLY_STOPPING_MIN_DELTA = 1e-4


@dataclass(frozen=True)
class SecondaryQuestion:
    """What a bucket or days booster learns: its LightGBM parameters, which training rows it
    learns from (``rows``, a mask over the whole window), their target and its most rounds."""

    params: dict
    rows: np.ndarray
    target: np.ndarray
    rounds: int

    @staticmethod
    def validated(validation_rows: np.ndarray) -> bool:
        """Whether these rows of the newest slice are enough to stop early by."""
        return int(validation_rows.sum()) >= MIN_PER_CLASS


class GradientBoostingLateModel:
    """LightGBM late-payment model with calibrated probabilities.

    Parameters
    ----------
    n_estimators : int
        Most boosting rounds; early stopping on the calibration slice picks fewer.
    learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree, reg_lambda
        LightGBM parameters.
    extra_trees : bool
        Randomised split thresholds: a regulariser that held up on small ledgers (the IBM
        sample's validation window) without costing accuracy on large ones.
    calibration_fraction : float
        Share of the training window, the newest, held out for early stopping, calibration and
        the threshold.
    calibration_method : {"auto", "isotonic", "sigmoid"}
    cost_missed_late, cost_needless_reminder : float
        Costs whose expected sum the decision threshold minimises.
    recency_half_life_days : float or None
        Weigh each training invoice by half to the power of its age in these days (age counted
        back from the newest issue date trained on), so that the boosters follow a regime
        change sooner; None weighs every invoice alike.
    random_state : int
    n_jobs : int
    """

    kind = "gbm"

    def __init__(
        self,
        *,
        n_estimators: int = 600,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 40,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        extra_trees: bool = True,
        calibration_fraction: float = 0.2,
        calibration_method: str = "auto",
        cost_missed_late: float = 3.0,
        cost_needless_reminder: float = 1.0,
        recency_half_life_days: float | None = None,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.extra_trees = extra_trees
        self.calibration_fraction = calibration_fraction
        self.calibration_method = calibration_method
        self.cost_missed_late = cost_missed_late
        self.cost_needless_reminder = cost_needless_reminder
        self.recency_half_life_days = recency_half_life_days
        self.random_state = random_state
        self.n_jobs = n_jobs

    def get_params(self) -> dict:
        return {name: getattr(self, name) for name in _PARAM_NAMES}

    # ------------------------------------------------------------------ fit
    def fit(self, data: TrainingData) -> GradientBoostingLateModel:
        """Learn from ``data`` (sorted by issue date); the newest slice calibrates."""
        if not 0.05 <= self.calibration_fraction <= 0.5:
            raise InputError(
                "calibration_fraction must be between 0.05 and 0.5, "
                f"got {self.calibration_fraction}"
            )
        if self.recency_half_life_days is not None and self.recency_half_life_days <= 0:
            raise InputError(
                f"recency_half_life_days must be positive, got {self.recency_half_life_days}"
            )
        data.check_enough()
        started = time.perf_counter()
        self.spec_ = data.spec
        self.schema_ = FeatureSchema.learn(data.features, data.categorical)
        self.profile_ = LatenessProfile.observe(data)
        split = _time_split(data, self.calibration_fraction)
        fit_part, calibration_part = data.slice(slice(0, split)), data.slice(slice(split, None))

        weights = self._recency_weights(data)
        x_fit = self.schema_.apply(fit_part.features)
        x_cal = self.schema_.apply(calibration_part.features)
        self.late_booster_ = self._fit_late(
            x_fit,
            fit_part.is_late,
            None if weights is None else weights[:split],
            x_cal,
            calibration_part.is_late,
        )
        raw = self.late_booster_.predict(x_cal)
        self.calibrator_ = Calibrator.fit(raw, calibration_part.is_late, self.calibration_method)
        calibrated = self.calibrator_.transform(raw)
        self.threshold_ = float(
            choose_threshold(
                calibration_part.is_late,
                calibrated,
                cost_missed_late=self.cost_missed_late,
                cost_needless_reminder=self.cost_needless_reminder,
            )
        )
        self.bucket_booster_ = self._fit_secondary(
            self.bucket_question(data), x_fit, x_cal, split, weights
        )
        self.days_booster_ = self._fit_secondary(
            self.days_question(data), x_fit, x_cal, split, weights
        )
        self.calibration_window_ = (
            calibration_part.issue_dates.iloc[0].date().isoformat(),
            calibration_part.issue_dates.iloc[-1].date().isoformat(),
        )
        self.training_seconds_ = time.perf_counter() - started
        return self

    def _lgb_params(self, objective: str, **extra) -> dict:
        return {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "extra_trees": self.extra_trees,
            "seed": self.random_state,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            **extra,
        }

    def _recency_weights(self, data: TrainingData) -> np.ndarray | None:
        """Each training row's weight, halved every ``recency_half_life_days`` of age; or None."""
        if self.recency_half_life_days is None:
            return None
        issued = data.issue_dates.to_numpy()
        age_days = (issued[-1] - issued) / np.timedelta64(1, "D")
        return 0.5 ** (age_days / self.recency_half_life_days)

    def _fit_late(self, x_fit, y_fit, w_fit, x_cal, y_cal) -> lgb.Booster:
        weights = np.ones(len(y_fit)) if w_fit is None else w_fit
        positives = max(float(weights[y_fit == 1].sum()), 1.0)
        params = self._lgb_params(
            "binary", scale_pos_weight=(weights.sum() - positives) / positives, metric="auc"
        )
        train_set = lgb.Dataset(x_fit, label=y_fit, weight=w_fit, categorical_feature="auto")
        valid_set = lgb.Dataset(x_cal, label=y_cal, reference=train_set)
        return _train_early_stopped(
            params, train_set, valid_set, self.n_estimators, validated=len(y_cal) > 0
        )

    def bucket_question(self, data: TrainingData) -> SecondaryQuestion | None:
        """P(bucket | late), or None when a late bucket has too few examples to learn from."""
        n_late_buckets = len(data.spec.bucket_names) - 1
        decided = data.bucket >= 1
        counts = np.bincount(data.bucket[decided] - 1, minlength=n_late_buckets)
        if counts.min() < MIN_PER_CLASS:
            return None
        if n_late_buckets == 2:
            params = self._lgb_params("binary")
        else:
            params = self._lgb_params("multiclass", num_class=n_late_buckets)
        return SecondaryQuestion(params, decided, data.bucket - 1, self._secondary_rounds())

    def days_question(self, data: TrainingData) -> SecondaryQuestion | None:
        """Days late given late (on log1p scale), or None with too few settled late invoices."""
        known = (data.is_late == 1) & ~np.isnan(data.days_late)
        if known.sum() < MIN_PER_CLASS:
            return None
        target = np.log1p(np.where(known, data.days_late, 0.0))
        return SecondaryQuestion(
            self._lgb_params("regression"), known, target, self._secondary_rounds()
        )

    def _secondary_rounds(self) -> int:
        return max(50, self.n_estimators // 3)

    def _fit_secondary(
        self,
        question: SecondaryQuestion | None,
        x_fit: pd.DataFrame,
        x_cal: pd.DataFrame,
        split: int,
        weights: np.ndarray | None,
    ) -> lgb.Booster | None:
        """The booster answering ``question``: learning from its rows before ``split``,
        early-stopped on those after it."""
        if question is None:
            return None
        fit_rows, cal_rows = question.rows[:split], question.rows[split:]
        train_set = lgb.Dataset(
            x_fit[fit_rows],
            label=question.target[:split][fit_rows],
            weight=None if weights is None else weights[:split][fit_rows],
        )
        valid_set = lgb.Dataset(
            x_cal[cal_rows], label=question.target[split:][cal_rows], reference=train_set
        )
        return _train_early_stopped(
            question.params,
            train_set,
            valid_set,
            question.rounds,
            validated=question.validated(cal_rows),
        )

    # ------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "late_booster_"):
            raise RuntimeError("this model is not fitted yet; call fit() or load() first")

    def predict_proba_late(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated P(late) for each row of ``features``."""
        self._check_fitted()
        raw = self._predict(self.late_booster_, self.schema_.matrix(features))
        return self.calibrator_.transform(raw)

    def predict_outcome(self, features: pd.DataFrame) -> pd.DataFrame:
        """p_late, bucket probabilities and expected days late for each row."""
        self._check_fitted()
        return self._outcome(self.schema_.matrix(features), features.index)

    def explain_outcome(self, features: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:meth:`predict_outcome` and :meth:`contributions` together, from one matrix."""
        self._check_fitted()
        x = self.schema_.matrix(features)
        return self._outcome(x, features.index), self._contributions(x, features.index)

    def _outcome(self, x: np.ndarray, index: pd.Index) -> pd.DataFrame:
        p_late = self.calibrator_.transform(self._predict(self.late_booster_, x))
        n_late_buckets = len(self.spec_.bucket_names) - 1
        if self.bucket_booster_ is None:
            buckets = np.tile(self.profile_.late_bucket_shares, (len(x), 1))
        elif n_late_buckets == 2:
            upper = self._predict(self.bucket_booster_, x)
            buckets = np.column_stack([1 - upper, upper])
        else:
            buckets = self._predict(self.bucket_booster_, x)
        if self.days_booster_ is None:
            days = np.full(len(x), self.profile_.mean_days_late)
        else:
            days = np.maximum(np.expm1(self._predict(self.days_booster_, x)), 1.0)
        return outcome_frame(p_late, buckets, days, self.spec_, index)

    def compile_ahead(self, *, rows: int) -> threading.Thread | None:
        """Start compiling the boosters in the background when calls of ``rows`` rows will
        predict (see :func:`latepay.models.compiled.compile_ahead`)."""
        self._check_fitted()
        boosters = (self.late_booster_, self.bucket_booster_, self.days_booster_)
        return compiled.compile_ahead([b for b in boosters if b is not None], rows=rows)

    def _predict(self, booster: lgb.Booster, x: np.ndarray) -> np.ndarray:
        return compiled.predict(booster, x, threads=self.n_jobs)

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Each feature's contribution to the log-odds of lateness (LightGBM ``pred_contrib``)."""
        self._check_fitted()
        return self._contributions(self.schema_.matrix(features), features.index)

    def _contributions(self, x: np.ndarray, index: pd.Index) -> pd.DataFrame:
        values = self.late_booster_.predict(x, pred_contrib=True)
        return pd.DataFrame(values[:, :-1], columns=self.schema_.columns, index=index)

    def feature_importance(self) -> pd.Series:
        """Total gain of each feature in the P(late) booster."""
        self._check_fitted()
        gains = self.late_booster_.feature_importance(importance_type="gain")
        return pd.Series(gains, index=self.schema_.columns).sort_values(ascending=False)

    # -------------------------------------------------------- persistence
    def save(self, folder: Path) -> None:
        """Write LightGBM text models and JSON into ``folder``."""
        self._check_fitted()
        folder.mkdir(parents=True, exist_ok=True)
        self.late_booster_.save_model(folder / "late.txt")
        if self.bucket_booster_ is not None:
            self.bucket_booster_.save_model(folder / "bucket.txt")
        if self.days_booster_ is not None:
            self.days_booster_.save_model(folder / "days.txt")
        write_model_state(
            folder,
            self,
            FORMAT_VERSION,
            calibrator=self.calibrator_.to_dict(),
            calibration_window=list(self.calibration_window_),
            has_bucket_model=self.bucket_booster_ is not None,
            has_days_model=self.days_booster_ is not None,
        )

    @classmethod
    def load(cls, folder: Path) -> GradientBoostingLateModel:
        """Read a model written by :meth:`save` (text and JSON only, nothing executed)."""
        model, state = read_model_state(folder, cls, FORMAT_VERSION)
        model.calibrator_ = Calibrator.from_dict(state["calibrator"])
        model.calibration_window_ = tuple(state["calibration_window"])
        model.late_booster_ = lgb.Booster(model_file=str(folder / "late.txt"))
        model.bucket_booster_ = (
            lgb.Booster(model_file=str(folder / "bucket.txt"))
            if state["has_bucket_model"]
            else None
        )
        model.days_booster_ = (
            lgb.Booster(model_file=str(folder / "days.txt")) if state["has_days_model"] else None
        )
        return model


_PARAM_NAMES = (
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "subsample",
    "colsample_bytree",
    "reg_lambda",
    "extra_trees",
    "calibration_fraction",
    "calibration_method",
    "cost_missed_late",
    "cost_needless_reminder",
    "recency_half_life_days",
    "random_state",
    "n_jobs",
)


def _train_early_stopped(
    params: dict, train_set: lgb.Dataset, valid_set: lgb.Dataset, rounds: int, *, validated: bool
) -> lgb.Booster:
    """``lgb.train`` early-stopped on ``valid_set``; at ``rounds`` when it is too small to
    judge by (``validated`` false)."""
    if not validated:
        return lgb.train(params, train_set, num_boost_round=rounds)
    return lgb.train(
        params,
        train_set,
        num_boost_round=rounds,
        valid_sets=[valid_set],
        callbacks=[
            lgb.early_stopping(
                EARLY_STOPPING_ROUNDS, verbose=False, min_delta=EARLY_STOPPING_MIN_DELTA
            )
        ],
    )


def _time_split(data: TrainingData, fraction: float) -> int:
    """Index where the calibration slice starts: no issue day straddles the split."""
    n = len(data.is_late)
    split = round(n * (1 - fraction))
    dates = data.issue_dates.to_numpy()
    split = int(np.searchsorted(dates, dates[min(split, n - 1)], side="left"))
    if split < MIN_PER_CLASS or n - split < MIN_PER_CLASS:
        raise InputError(
            f"cannot hold out a calibration slice of {fraction:.0%} from {n} invoices; "
            "train on a longer history"
        )
    return split
