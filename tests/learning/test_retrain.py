"""Champion/challenger retraining: better models replace the champion, nothing else does."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time

import numpy as np
import pandas as pd
import pytest
from tests.learning.conftest import SMALL_GBM, Workspace

from latepay.errors import NotEnoughDataError
from latepay.evaluation.backtest import default_cutoff
from latepay.features import load_ledger
from latepay.learning import retrain as retrain_module
from latepay.learning.retrain import retrain, retrain_lock
from latepay.models.registry import ModelRegistry
from latepay.models.training import data_fingerprint, make_model, training_data


def _shuffled_training_data(*args, **kwargs):
    """Training data whose outcomes are shuffled: a model learns nothing real from it."""
    data = training_data(*args, **kwargs)
    order = np.random.default_rng(0).permutation(len(data.is_late))
    return dataclasses.replace(
        data,
        is_late=data.is_late[order],
        bucket=data.bucket[order],
        days_late=data.days_late[order],
    )


def _install_champion(workspace: Workspace, *, shuffled: bool) -> str:
    """Register and promote a champion that last saw invoices issued 30% of the way back."""
    ledger = load_ledger(workspace.engine)
    trained_to = default_cutoff(ledger, 0.3) - pd.Timedelta(days=1)
    make_data = _shuffled_training_data if shuffled else training_data
    data = make_data(ledger, cutoff=trained_to + pd.Timedelta(days=1))
    model = make_model("gbm", **SMALL_GBM).fit(data)
    registry = ModelRegistry(workspace.settings.model_dir, workspace.engine)
    version = registry.register(
        model,
        data_hash=data_fingerprint(data),
        trained_from=data.issue_dates.iloc[0].date(),
        trained_to=trained_to.date(),
        metrics={},
    )
    registry.promote(version, decision="installed by the test")
    return version


def _registry(workspace: Workspace) -> ModelRegistry:
    return ModelRegistry(workspace.settings.model_dir, workspace.engine)


def test_the_first_model_becomes_champion_when_it_clears_the_floor(workspace) -> None:
    decision = retrain(workspace.engine, workspace.settings, model_params=SMALL_GBM)

    assert decision.promoted
    assert decision.champion_before is None
    assert decision.champion_metrics is None
    assert decision.challenger_metrics["roc_auc"] >= workspace.settings.retrain_min_auc
    assert _registry(workspace).champion_version() == decision.challenger


def test_a_better_challenger_is_promoted_and_the_decision_recorded(workspace) -> None:
    weak = _install_champion(workspace, shuffled=True)

    decision = retrain(workspace.engine, workspace.settings, model_params=SMALL_GBM)

    assert not decision.window_fallback
    assert decision.champion_before == weak
    assert decision.promoted, decision.reason
    margin = workspace.settings.retrain_margin
    assert decision.challenger_metrics["roc_auc"] >= decision.champion_metrics["roc_auc"] + margin
    assert decision.challenger_metrics["n"] == decision.champion_metrics["n"]
    rows = {row["version"]: row for row in _registry(workspace).versions()}
    assert rows[decision.challenger]["status"] == "champion"
    assert rows[decision.challenger]["decision"].startswith("retrain: promoted")
    assert rows[decision.challenger]["metrics"]["champion_on_holdout"]["roc_auc"] == (
        pytest.approx(decision.champion_metrics["roc_auc"])
    )
    assert rows[weak]["status"] == "retired"


def test_a_worse_challenger_stays_a_candidate_with_its_reason(workspace, monkeypatch) -> None:
    strong = _install_champion(workspace, shuffled=False)
    monkeypatch.setattr(retrain_module, "training_data", _shuffled_training_data)
    settings = workspace.settings.model_copy(update={"retrain_min_auc": 0.0})

    decision = retrain(workspace.engine, settings, model_params=SMALL_GBM)

    assert not decision.promoted
    assert decision.champion_after == strong
    assert "not above the champion's" in decision.reason
    rows = {row["version"]: row for row in _registry(workspace).versions()}
    assert rows[decision.challenger]["status"] == "candidate"
    assert "kept as candidate" in rows[decision.challenger]["decision"]
    assert _registry(workspace).champion_version() == strong


def test_a_challenger_below_the_quality_floor_is_never_promoted(workspace, monkeypatch) -> None:
    monkeypatch.setattr(retrain_module, "training_data", _shuffled_training_data)

    decision = retrain(workspace.engine, workspace.settings, model_params=SMALL_GBM)

    assert not decision.promoted
    assert "below the quality floor" in decision.reason
    assert _registry(workspace).champion_version() is None


def test_a_crash_while_training_leaves_the_champion_and_registers_nothing(
    workspace, monkeypatch
) -> None:
    champion = _install_champion(workspace, shuffled=False)

    class Exploding:
        def fit(self, data):
            raise RuntimeError("out of memory")

    monkeypatch.setattr(retrain_module, "make_model", lambda kind, **params: Exploding())
    with pytest.raises(RuntimeError, match="out of memory"):
        retrain(workspace.engine, workspace.settings)

    registry = _registry(workspace)
    assert registry.champion_version() == champion
    assert [row["version"] for row in registry.versions()] == [champion]
    assert not list(workspace.settings.model_dir.glob(".staging-*"))


def test_too_little_history_leaves_the_champion(workspace) -> None:
    champion = _install_champion(workspace, shuffled=False)
    first_day = load_ledger(workspace.engine).invoices["issue_date"].min()

    with pytest.raises(NotEnoughDataError, match="known outcome"):
        retrain(workspace.engine, workspace.settings, now=first_day + pd.Timedelta(days=40))

    assert _registry(workspace).champion_version() == champion
    assert len(_registry(workspace).versions()) == 1


def test_two_retrains_at_once_run_one_after_the_other(workspace, monkeypatch) -> None:
    spans: list[tuple[float, float]] = []

    def slow_retrain(*args):
        started = time.monotonic()
        time.sleep(0.4)
        spans.append((started, time.monotonic()))

    monkeypatch.setattr(retrain_module, "_retrain_locked", slow_retrain)
    threads = [
        threading.Thread(target=retrain, args=(workspace.engine, workspace.settings))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(spans) == 2
    first, second = sorted(spans)
    assert second[0] >= first[1]


def test_the_retrain_lock_serialises_on_each_database(engine, tmp_path) -> None:
    spans: list[tuple[float, float]] = []

    def hold() -> None:
        with retrain_lock(engine, tmp_path / "models"):
            started = time.monotonic()
            time.sleep(0.3)
            spans.append((started, time.monotonic()))

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(spans) == 3
    ordered = sorted(spans)
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(ordered))
