"""Metrics against cases small enough to compute by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latepay.evaluation.metrics import (
    calibration_table,
    choose_threshold,
    classification_metrics,
    expected_calibration_error,
    lift_table,
)


def test_perfect_ranking_scores_one_and_reversed_ranking_zero() -> None:
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.8, 0.9])

    perfect = classification_metrics(y, p, threshold=0.5)
    reversed_ = classification_metrics(y, 1 - p, threshold=0.5)

    assert perfect["roc_auc"] == 1.0
    assert perfect["pr_auc"] == 1.0
    assert reversed_["roc_auc"] == 0.0


def test_confusion_counts_and_threshold_scores() -> None:
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.1, 0.7, 0.8, 0.4, 0.5, 0.2])
    # Late predicted for p >= 0.5: invoices 1, 2 and 4 (the 0.5 counts as late).

    metrics = classification_metrics(y, p, threshold=0.5)

    assert (metrics["tn"], metrics["fp"], metrics["fn"], metrics["tp"]) == (2, 1, 1, 2)
    assert metrics["precision_late"] == pytest.approx(2 / 3)
    assert metrics["recall_late"] == pytest.approx(2 / 3)
    assert metrics["f1_late"] == pytest.approx(2 / 3)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["base_rate"] == 0.5
    assert metrics["n"] == 6
    assert metrics["threshold"] == 0.5


def test_brier_and_log_loss_by_hand() -> None:
    y = np.array([0, 1])
    p = np.array([0.2, 0.6])

    metrics = classification_metrics(y, p, threshold=0.5)

    assert metrics["brier"] == pytest.approx((0.2**2 + 0.4**2) / 2)
    assert metrics["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)


def test_ece_of_four_points_by_hand() -> None:
    y = np.array([0, 1, 1, 0])
    p = np.array([0.05, 0.15, 0.72, 0.78])
    # Bin [0, 0.1): gap |0.05 - 0| = 0.05, weight 1/4.
    # Bin [0.1, 0.2): gap |0.15 - 1| = 0.85, weight 1/4.
    # Bin [0.7, 0.8): mean prediction 0.75, observed 1/2, gap 0.25, weight 2/4.
    expected = 0.25 * 0.05 + 0.25 * 0.85 + 0.5 * 0.25

    assert expected_calibration_error(y, p) == pytest.approx(expected)
    assert classification_metrics(y, p, 0.5)["ece"] == pytest.approx(expected)


def test_calibration_table_lists_non_empty_bins() -> None:
    y = np.array([0, 1, 1, 0])
    p = np.array([0.05, 0.15, 0.72, 0.78])

    table = calibration_table(y, p)

    assert list(table.columns) == ["bin", "mean_predicted", "observed_rate", "count"]
    assert table["bin"].tolist() == [0, 1, 7]
    assert table["count"].tolist() == [1, 1, 2]
    assert table["mean_predicted"].tolist() == pytest.approx([0.05, 0.15, 0.75])
    assert table["observed_rate"].tolist() == pytest.approx([0.0, 1.0, 0.5])


def test_probability_one_falls_in_the_last_bin() -> None:
    table = calibration_table(np.array([1, 0]), np.array([1.0, 0.0]), bins=10)

    assert table["bin"].tolist() == [0, 9]


def test_single_class_gives_nan_aucs_without_crashing() -> None:
    y = np.zeros(4, dtype=int)
    p = np.array([0.1, 0.2, 0.6, 0.9])

    metrics = classification_metrics(y, p, threshold=0.5)

    assert math.isnan(metrics["roc_auc"])
    assert math.isnan(metrics["pr_auc"])
    assert math.isnan(metrics["recall_late"])  # no late invoice to recall
    assert metrics["precision_late"] == 0.0
    assert metrics["brier"] == pytest.approx((0.01 + 0.04 + 0.36 + 0.81) / 4)
    assert (metrics["tn"], metrics["fp"]) == (2, 2)


def test_lift_table_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    p = np.linspace(1.0, 0.1, 10)  # already riskiest first

    table = lift_table(y, p, groups=5)

    assert table["decile"].tolist() == [1, 2, 3, 4, 5]
    assert table["count"].tolist() == [2, 2, 2, 2, 2]
    assert table["late_rate"].tolist() == pytest.approx([1.0, 0.0, 0.5, 0.0, 0.0])
    assert table["lift"].tolist() == pytest.approx([1 / 0.3, 0.0, 0.5 / 0.3, 0.0, 0.0])
    assert table["cumulative_capture"].tolist() == pytest.approx([2 / 3, 2 / 3, 1.0, 1.0, 1.0])


def test_lift_table_sorts_by_score_and_handles_few_invoices() -> None:
    table = lift_table(np.array([0, 1, 0]), np.array([0.2, 0.9, 0.5]), groups=10)

    assert len(table) == 3
    assert table["late_rate"].tolist() == [1.0, 0.0, 0.0]


def test_choose_threshold_flags_one_extra_invoice_when_misses_are_expensive() -> None:
    y = np.array([0, 1, 0, 1])
    p = np.array([0.2, 0.3, 0.4, 0.8])
    # Costs 10 per missed late, 1 per needless reminder:
    # t <= 0.2 -> 2 needless = 2; 0.2 < t <= 0.3 -> 1 needless = 1 (cheapest);
    # 0.3 < t <= 0.4 -> 1 missed + 1 needless = 11; 0.4 < t <= 0.8 -> 10; above -> 20.
    # Of the cheapest candidates (0.21 ... 0.30) the one nearest 0.5 is 0.3.

    assert choose_threshold(y, p, cost_missed_late=10.0, cost_needless_reminder=1.0) == 0.3


def test_choose_threshold_breaks_ties_toward_one_half() -> None:
    y = np.array([0, 1, 0, 1])
    p = np.array([0.2, 0.3, 0.4, 0.8])
    # Needless reminders now cost 10: every t in (0.4, 0.8] costs 1 (one missed), the minimum.
    assert choose_threshold(y, p, cost_missed_late=1.0, cost_needless_reminder=10.0) == 0.5
    # Perfectly separated: every t in (0.1, 0.9] costs nothing.
    assert choose_threshold(np.array([0, 1]), np.array([0.1, 0.9]), 1.0, 1.0) == 0.5


def test_choose_threshold_reaches_the_minimum_cost() -> None:
    rng = np.random.default_rng(7)
    p = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p).astype(int)

    chosen = choose_threshold(y, p, cost_missed_late=5.0, cost_needless_reminder=1.0)

    def cost(threshold: float) -> float:
        flagged = p >= threshold
        return 5.0 * np.sum(~flagged & (y == 1)) + 1.0 * np.sum(flagged & (y == 0))

    assert cost(chosen) == min(cost(t) for t in np.concatenate([p, np.linspace(0, 1, 1001)]))


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        (np.array([0, 1]), np.array([0.5]), "same length"),
        (np.array([0, 2]), np.array([0.5, 0.5]), "only 0"),
        (np.array([0, 1]), np.array([0.5, 1.5]), r"\[0, 1\]"),
        (np.array([0, 1]), np.array([0.5, np.nan]), "NaN"),
        (np.array([], dtype=int), np.array([]), "empty"),
    ],
)
def test_invalid_inputs_say_what_is_wrong(y: np.ndarray, p: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        classification_metrics(y, p, threshold=0.5)


def test_negative_costs_are_refused() -> None:
    with pytest.raises(ValueError, match="cost_missed_late=-1"):
        choose_threshold(np.array([0, 1]), np.array([0.2, 0.8]), -1.0, 1.0)
