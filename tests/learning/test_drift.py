"""Population stability index: zero for the same distribution, large for a shifted one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latepay.learning.drift import category_stability_index, population_stability_index


@pytest.fixture
def values() -> np.ndarray:
    return np.random.default_rng(7).normal(100.0, 15.0, 5_000)


def test_a_distribution_is_stable_against_itself(values) -> None:
    assert population_stability_index(values, values) == pytest.approx(0.0, abs=1e-12)


def test_a_fresh_sample_of_the_same_distribution_stays_below_watch(values) -> None:
    other = np.random.default_rng(8).normal(100.0, 15.0, 2_000)
    assert population_stability_index(values, other) < 0.1


def test_a_shift_of_one_standard_deviation_is_drift(values) -> None:
    assert population_stability_index(values, values + 15.0) > 0.25


def test_values_beyond_the_reference_range_and_missing_values_count(values) -> None:
    recent = values.copy()
    recent[:1_000] = np.nan
    assert population_stability_index(values, recent) > 0.25


def test_category_shares_that_move_are_drift() -> None:
    reference = pd.Series(["paper"] * 800 + ["electronic"] * 200)
    assert category_stability_index(reference, reference) == pytest.approx(0.0, abs=1e-12)
    moved = pd.Series(["paper"] * 300 + ["electronic"] * 600 + ["portal"] * 100)
    assert category_stability_index(reference, moved) > 0.25
