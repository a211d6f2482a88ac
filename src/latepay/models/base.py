"""What every late-payment model answers, and the parts of that answer all models share.

A model predicts P(late); the lateness buckets and the expected days late follow from P(late)
and the model's view of *how* late a late invoice will be. Models that learn only P(late) (the
seed baseline) use the shares observed in training for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from latepay.errors import NotEnoughDataError
from latepay.features.labels import LabelSpec

MIN_SETTLED_INVOICES = 100
MIN_PER_CLASS = 30


@dataclass(frozen=True)
class TrainingData:
    """Features and labels of the invoices a model learns from, in issue order.

    ``days_late`` is NaN where only a lower bound is known; ``bucket`` is -1 where the
    lateness bucket is not yet decided (see :func:`latepay.features.labels_known_at`).
    """

    features: pd.DataFrame
    is_late: np.ndarray
    bucket: np.ndarray
    days_late: np.ndarray
    issue_dates: pd.Series
    categorical: list[str]
    spec: LabelSpec

    def __post_init__(self) -> None:
        order = np.argsort(self.issue_dates.to_numpy(), kind="stable")
        if not (order == np.arange(len(order))).all():
            raise ValueError("training data must be sorted by issue date")

    def check_enough(self) -> None:
        """Refuse to learn from too little, saying what is missing."""
        n = len(self.is_late)
        late = int(self.is_late.sum())
        problems = []
        if n < MIN_SETTLED_INVOICES:
            problems.append(f"{n} invoices with a known outcome (need {MIN_SETTLED_INVOICES})")
        if n - late < MIN_PER_CLASS:
            problems.append(f"{n - late} paid on time (need {MIN_PER_CLASS})")
        if late < MIN_PER_CLASS:
            problems.append(f"{late} paid late (need {MIN_PER_CLASS})")
        if problems:
            raise NotEnoughDataError(
                "not enough history to train: "
                + ", ".join(problems)
                + ". Import more settled invoices or move the cutoff later."
            )

    def slice(self, rows: slice) -> TrainingData:
        return TrainingData(
            features=self.features.iloc[rows],
            is_late=self.is_late[rows],
            bucket=self.bucket[rows],
            days_late=self.days_late[rows],
            issue_dates=self.issue_dates.iloc[rows],
            categorical=self.categorical,
            spec=self.spec,
        )


@dataclass(frozen=True)
class LatenessProfile:
    """How late late invoices are, as observed in training: the fallback for bucket and days.

    ``late_bucket_shares`` are the shares of each late bucket among late invoices whose bucket
    is decided; ``mean_days_late`` the mean days late of settled late invoices.
    """

    late_bucket_shares: tuple[float, ...]
    mean_days_late: float

    @classmethod
    def observe(cls, data: TrainingData) -> LatenessProfile:
        n_late_buckets = len(data.spec.bucket_names) - 1
        decided = data.bucket[data.bucket >= 1]
        counts = np.bincount(decided - 1, minlength=n_late_buckets).astype(float)
        # A Laplace count keeps an unseen bucket possible rather than impossible.
        shares = (counts + 1) / (counts.sum() + n_late_buckets)
        late_days = data.days_late[(data.is_late == 1) & ~np.isnan(data.days_late)]
        mean_days = float(late_days.mean()) if len(late_days) else float(data.spec.bucket_edges[0])
        return cls(tuple(float(s) for s in shares), mean_days)

    def to_dict(self) -> dict:
        return {
            "late_bucket_shares": list(self.late_bucket_shares),
            "mean_days_late": self.mean_days_late,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LatenessProfile:
        return cls(tuple(data["late_bucket_shares"]), float(data["mean_days_late"]))


def outcome_frame(
    p_late: np.ndarray,
    late_bucket_probabilities: np.ndarray,
    days_late_when_late: np.ndarray,
    spec: LabelSpec,
    index: pd.Index,
) -> pd.DataFrame:
    """Assemble p_late, one ``p_<bucket>`` column per bucket and expected_days_late.

    ``late_bucket_probabilities`` holds P(bucket | late) per late bucket (rows sum to 1), so the
    bucket probabilities always sum to one and agree with p_late.
    """
    names = spec.bucket_names
    # One constructor: a column assigned at a time costs more than the prediction when a
    # single invoice is scored.
    columns = {"p_late": p_late, f"p_{names[0]}": 1.0 - p_late}
    for k, name in enumerate(names[1:]):
        columns[f"p_{name}"] = p_late * late_bucket_probabilities[:, k]
    columns["expected_days_late"] = p_late * days_late_when_late
    return pd.DataFrame(columns, index=index)
