"""Metrics for a late-payment classifier: ranking, calibration, decisions at a threshold, lift.

Every function takes ``y_true`` (1 = paid late, 0 = on time) and ``p_late`` (the predicted
probability of being late) for the same invoices, in the same order. An invoice is *predicted*
late when ``p_late >= threshold``, the same rule the models apply.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

#: Step of the threshold grid that :func:`choose_threshold` searches besides the scores themselves.
THRESHOLD_GRID_STEP = 0.01


def _validated(y_true: np.ndarray, p_late: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``y_true`` as 0/1 integers and ``p_late`` as floats, or say what is wrong."""
    y = np.asarray(y_true)
    p = np.asarray(p_late, dtype=float)
    if y.ndim != 1 or p.ndim != 1 or len(y) != len(p):
        raise ValueError(
            "y_true and p_late must be 1-D arrays of the same length; got shapes "
            f"{y.shape} and {p.shape}. Pass one label and one probability per invoice."
        )
    if len(y) == 0:
        raise ValueError("y_true and p_late are empty; metrics need at least one invoice.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(
            f"y_true must hold only 0 (on time) and 1 (late); got values {np.unique(y)[:5]}."
        )
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError(
            "p_late must hold probabilities in [0, 1] with no NaN; "
            f"got min {np.nanmin(p)}, max {np.nanmax(p)}, {int(np.isnan(p).sum())} NaN."
        )
    return y.astype(int), p


def _calibration_bin(p: np.ndarray, bins: int) -> np.ndarray:
    """Index of the equal-width bin of each probability; bin ``i`` is ``[i/bins, (i+1)/bins)``.

    The last bin is closed on the right so that ``p = 1.0`` belongs to it.
    """
    return np.minimum((p * bins).astype(int), bins - 1)


def calibration_table(y_true: np.ndarray, p_late: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean prediction against observed late rate in equal-width probability bins.

    Parameters
    ----------
    y_true : ndarray of 0/1
        1 when the invoice was paid late.
    p_late : ndarray of float
        Predicted probability of being late, in ``[0, 1]``.
    bins : int, default 10
        Number of equal-width bins over ``[0, 1]``. Bin ``i`` holds ``i/bins <= p < (i+1)/bins``;
        the last bin also holds ``p = 1``.

    Returns
    -------
    DataFrame
        One row per *non-empty* bin, in bin order: ``bin`` (int index), ``mean_predicted``,
        ``observed_rate`` (share of late invoices) and ``count``. A well-calibrated model has
        ``mean_predicted`` close to ``observed_rate`` in every bin.

    Examples
    --------
    >>> calibration_table(np.array([0, 1, 1]), np.array([0.05, 0.95, 0.9]), bins=2)
       bin  mean_predicted  observed_rate  count
    0    0           0.050            0.0      1
    1    1           0.925            1.0      2
    """
    if bins < 1:
        raise ValueError(f"bins must be a positive integer; got {bins}.")
    y, p = _validated(y_true, p_late)
    frame = pd.DataFrame({"bin": _calibration_bin(p, bins), "p": p, "y": y})
    table = frame.groupby("bin", sort=True).agg(
        mean_predicted=("p", "mean"), observed_rate=("y", "mean"), count=("y", "size")
    )
    return table.reset_index()


def expected_calibration_error(y_true: np.ndarray, p_late: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error (ECE) over equal-width probability bins.

    ``ECE = sum over bins b of (n_b / n) * |mean(p in b) - mean(y in b)|``: the gap between
    predicted and observed late rate in each bin, weighted by the share of invoices in the bin.
    Empty bins weigh nothing. 0 is perfect calibration; the worst possible value is 1.

    Parameters
    ----------
    y_true : ndarray of 0/1
    p_late : ndarray of float
    bins : int, default 10
        Bins as in :func:`calibration_table`.

    Returns
    -------
    float

    Examples
    --------
    Half the invoices predicted 0.2 and none late (gap 0.2), half 0.6 and all late (gap 0.4):

    >>> round(expected_calibration_error(np.array([0, 1]), np.array([0.2, 0.6]), bins=2), 6)
    0.3
    """
    table = calibration_table(y_true, p_late, bins)
    weights = table["count"] / table["count"].sum()
    gaps = (table["mean_predicted"] - table["observed_rate"]).abs()
    return float((weights * gaps).sum())


def classification_metrics(
    y_true: np.ndarray, p_late: np.ndarray, threshold: float
) -> dict[str, float | int | list]:
    """All the numbers a model card or a comparison table needs, for one set of predictions.

    Parameters
    ----------
    y_true : ndarray of 0/1
        1 when the invoice was paid late.
    p_late : ndarray of float
        Predicted probability of being late, in ``[0, 1]``.
    threshold : float
        Invoices with ``p_late >= threshold`` are predicted late.

    Returns
    -------
    dict
        Ranking (threshold-free): ``roc_auc``, ``pr_auc`` (average precision). Both are NaN when
        ``y_true`` holds a single class, since no ranking between classes exists.
        Probabilities: ``brier``, ``log_loss``, ``ece`` (see :func:`expected_calibration_error`,
        10 bins).
        At the threshold: ``accuracy``, ``precision_late``, ``recall_late``, ``f1_late`` (NaN
        when undefined, e.g. precision when nothing is predicted late) and the confusion-matrix
        counts ``tn``, ``fp``, ``fn``, ``tp`` (ints, "positive" meaning late).
        Context: ``threshold``, ``base_rate`` (share late) and ``n`` (number of invoices).

    Examples
    --------
    >>> m = classification_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), 0.5)
    >>> m["roc_auc"], m["tp"], m["fp"]
    (0.75, 1, 1)
    """
    y, p = _validated(y_true, p_late)
    predicted = (p >= threshold).astype(int)
    both_classes = len(np.unique(y)) == 2
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both_classes else float("nan"),
        "brier": float(brier_score_loss(y, p, pos_label=1)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "accuracy": float(accuracy_score(y, predicted)),
        "precision_late": float(precision_score(y, predicted, zero_division=np.nan)),
        "recall_late": float(recall_score(y, predicted, zero_division=np.nan)),
        "f1_late": float(f1_score(y, predicted, zero_division=np.nan)),
        "threshold": float(threshold),
        "base_rate": float(y.mean()),
        "n": len(y),
        "tn": int(tn),
        "fp": int(fp),
        "fn": int(fn),
        "tp": int(tp),
    }


def lift_table(y_true: np.ndarray, p_late: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Late rate, lift and cumulative capture by score group, riskiest group first.

    Invoices are sorted by ``p_late``, highest first (ties keep their input order), and cut into
    ``groups`` groups of equal size (sizes differ by at most one). With fewer invoices than
    groups, each invoice is its own group.

    Parameters
    ----------
    y_true : ndarray of 0/1
    p_late : ndarray of float
    groups : int, default 10
        Number of groups; 10 gives deciles.

    Returns
    -------
    DataFrame
        One row per group: ``decile`` (1 = highest scores), ``count``, ``late_rate``, ``lift``
        (late rate divided by the overall late rate: 3 means three times as many late invoices
        as a random pick) and ``cumulative_capture`` (share of all late invoices found in this
        and the riskier groups). ``lift`` and ``cumulative_capture`` are NaN when nothing is late.
    """
    if groups < 1:
        raise ValueError(f"groups must be a positive integer; got {groups}.")
    y, p = _validated(y_true, p_late)
    riskiest_first = np.argsort(-p, kind="stable")
    chunks = np.array_split(y[riskiest_first], min(groups, len(y)))
    counts = np.array([len(chunk) for chunk in chunks])
    late = np.array([chunk.sum() for chunk in chunks])
    total_late = late.sum()
    base_rate = total_late / len(y)
    late_rate = late / counts
    with np.errstate(invalid="ignore", divide="ignore"):
        lift = np.where(total_late > 0, late_rate / base_rate, np.nan)
        capture = np.where(total_late > 0, np.cumsum(late) / total_late, np.nan)
    return pd.DataFrame(
        {
            "decile": np.arange(1, len(chunks) + 1),
            "count": counts,
            "late_rate": late_rate,
            "lift": lift,
            "cumulative_capture": capture,
        }
    )


def choose_threshold(
    y_true: np.ndarray,
    p_late: np.ndarray,
    cost_missed_late: float,
    cost_needless_reminder: float,
) -> float:
    """The decision threshold that minimises the cost of mistakes on these invoices.

    The cost of a threshold ``t`` is ``cost_missed_late * FN + cost_needless_reminder * FP``,
    where FN counts late invoices with ``p_late < t`` (no action taken) and FP on-time invoices
    with ``p_late >= t`` (a reminder sent for nothing). Candidates are every distinct predicted
    value and the grid ``0.00, 0.01, ..., 1.00``; between two neighbouring scores the cost is
    constant, so this finds the minimum. When several candidates share the minimum cost, the one
    nearest 0.5 wins (and the lower of two equally near), so a flat cost curve does not push
    the threshold to an extreme that only the sample supports.

    Parameters
    ----------
    y_true : ndarray of 0/1
        1 when the invoice was paid late.
    p_late : ndarray of float
        Predicted probability of being late, in ``[0, 1]``.
    cost_missed_late : float
        Cost of not acting on an invoice that turns out late (>= 0).
    cost_needless_reminder : float
        Cost of acting on an invoice that would have been paid on time (>= 0).

    Returns
    -------
    float
        The chosen threshold: predict late when ``p_late >= threshold``.

    Examples
    --------
    A missed late invoice costs 10 times a needless reminder, so one extra reminder is worth it:

    >>> choose_threshold(np.array([0, 1, 0, 1]), np.array([0.2, 0.3, 0.4, 0.8]), 10.0, 1.0)
    0.3
    """
    if cost_missed_late < 0 or cost_needless_reminder < 0:
        raise ValueError(
            "Costs must be zero or positive; got cost_missed_late="
            f"{cost_missed_late}, cost_needless_reminder={cost_needless_reminder}."
        )
    y, p = _validated(y_true, p_late)
    grid = np.round(np.arange(0.0, 1.0 + THRESHOLD_GRID_STEP / 2, THRESHOLD_GRID_STEP), 10)
    candidates = np.union1d(np.unique(p), grid)
    late_scores = np.sort(p[y == 1])
    on_time_scores = np.sort(p[y == 0])
    missed_late = np.searchsorted(late_scores, candidates, side="left")
    needless = len(on_time_scores) - np.searchsorted(on_time_scores, candidates, side="left")
    cost = cost_missed_late * missed_late + cost_needless_reminder * needless
    cheapest = candidates[np.isclose(cost, cost.min(), rtol=1e-9, atol=1e-12)]
    # Sorted ascending, so argmin returns the lower of two candidates equally near 0.5.
    return float(cheapest[np.argmin(np.abs(cheapest - 0.5))])
