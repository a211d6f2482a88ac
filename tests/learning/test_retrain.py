"""Champion/challenger retraining: better models replace the champion, nothing else does."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from tests.conftest import postgres_schema, require_postgres
from tests.learning.conftest import SMALL_GBM, Workspace

from latepay.db import make_engine
from latepay.errors import NotEnoughDataError
from latepay.evaluation.backtest import default_cutoff
from latepay.features import labels_known_at, load_ledger
from latepay.learning import retrain as retrain_module
from latepay.learning.retrain import (
    FALLBACK_SHARE,
    MIN_WINDOW_LABELS,
    _comparison_window,
    exclusive_lock,
    retrain,
    retrain_lock,
)
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


def _install_champion(
    workspace: Workspace, *, shuffled: bool, until: pd.Timestamp | None = None
) -> str:
    """Register and promote a champion trained on the labels known at ``until``.

    By default ``until`` is the issue date of the newest 30% of invoices, so the champion is
    older than the trailing window.
    """
    ledger = load_ledger(workspace.engine)
    until = default_cutoff(ledger, 0.3) if until is None else until
    make_data = _shuffled_training_data if shuffled else training_data
    data = make_data(ledger, cutoff=until)
    model = make_model("gbm", **SMALL_GBM).fit(data)
    registry = ModelRegistry(workspace.settings.model_dir, workspace.engine)
    version = registry.register(
        model,
        data_hash=data_fingerprint(data),
        trained_from=data.issue_dates.iloc[0].date(),
        trained_to=data.issue_dates.iloc[-1].date(),
        metrics={},
    )
    registry.promote(version, decision="installed by the test")
    return version


def _change_regime(workspace: Workspace, change: pd.Timestamp) -> None:
    """From ``change`` on, customers leave large invoices unpaid and pay small ones at once."""
    with workspace.engine.begin() as connection:
        issued = pd.read_sql(
            sa.text(
                "SELECT invoice_id, issue_date, amount FROM invoices "
                "WHERE issue_date >= :change AND NOT is_credit_note"
            ),
            connection,
            params={"change": change.date()},
        )
        large = issued["amount"] > issued["amount"].median()
        connection.execute(
            sa.text("UPDATE invoices SET settled_date = :settled WHERE invoice_id = :invoice"),
            [
                {"settled": None if late else pd.Timestamp(issue).date(), "invoice": invoice}
                for invoice, issue, late in zip(
                    issued["invoice_id"], issued["issue_date"], large, strict=True
                )
            ],
        )


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
    assert not decision.champion_saw_window
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
    assert decision.earlier_metrics == {}
    assert decision.rolled_back_to is None


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


def test_an_earlier_champion_better_than_both_comes_back(workspace, monkeypatch) -> None:
    good = _install_champion(workspace, shuffled=False)
    bad = _install_champion(workspace, shuffled=True)  # retires the good one
    monkeypatch.setattr(retrain_module, "training_data", _shuffled_training_data)
    settings = workspace.settings.model_copy(update={"retrain_min_auc": 0.0})

    decision = retrain(workspace.engine, settings, model_params=SMALL_GBM)

    assert decision.champion_before == bad
    assert not decision.promoted
    assert decision.rolled_back_to == good
    assert decision.champion_after == good
    assert list(decision.earlier_metrics) == [good]
    back = decision.earlier_metrics[good]["roc_auc"]
    assert back >= decision.champion_metrics["roc_auc"] + settings.retrain_margin
    assert back > decision.challenger_metrics["roc_auc"]
    assert decision.reason.startswith(f"earlier champion {good} is back: earlier champion ROC AUC")
    rows = {row["version"]: row for row in _registry(workspace).versions()}
    assert rows[good]["status"] == "champion"
    assert rows[good]["decision"].startswith(f"retrain of {decision.challenger}: rolled back")
    assert rows[bad]["status"] == "retired"
    assert rows[decision.challenger]["status"] == "candidate"


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


def test_the_window_is_the_newest_days_with_a_known_outcome(workspace) -> None:
    ledger = load_ledger(workspace.engine)
    spec = workspace.settings.label_spec()
    cutoff = ledger.as_of
    invoices = ledger.invoices[~ledger.invoices["is_credit_note"]]

    start, window, fallback = _comparison_window(ledger, cutoff, spec, 90)

    assert start == cutoff - pd.Timedelta(days=90)
    assert not fallback
    recent = invoices[(invoices["issue_date"] >= start) & (invoices["issue_date"] < cutoff)]
    known = labels_known_at(recent, cutoff, spec)
    assert len(window) == len(known) >= MIN_WINDOW_LABELS
    assert set(window["invoice_id"]) == set(recent.loc[known.index, "invoice_id"])
    # Outcomes unknown at the cutoff are left out, not counted as on time.
    assert len(known) < len(recent)
    assert window["issue_date"].is_monotonic_increasing


def test_a_window_with_too_few_outcomes_widens_to_the_newest_share(workspace) -> None:
    ledger = load_ledger(workspace.engine)
    spec = workspace.settings.label_spec()

    start, window, fallback = _comparison_window(ledger, ledger.as_of, spec, 10)

    assert fallback
    assert start == default_cutoff(ledger, FALLBACK_SHARE)
    assert len(window) >= MIN_WINDOW_LABELS
    assert window["issue_date"].min() >= start

    settings = workspace.settings.model_copy(update={"retrain_window_days": 10})
    decision = retrain(workspace.engine, settings, model_params=SMALL_GBM)

    assert decision.window_fallback
    assert decision.window_from == f"{start:%Y-%m-%d}"
    assert decision.window_invoices == len(window)
    assert "the newest 10 days had too few known outcomes" in decision.reason
    assert "widened to the newest 20% of invoices" in decision.reason
    assert decision.promoted  # no champion: the quality floor alone decides
    metrics = _registry(workspace).versions()[0]["metrics"]
    assert metrics["window_fallback"] is True
    assert metrics["holdout_from"] == decision.window_from


def test_a_champion_from_before_a_regime_change_is_replaced(workspace) -> None:
    change = pd.Timestamp("2022-10-01")
    _change_regime(workspace, change)
    old = _install_champion(workspace, shuffled=False, until=change)

    decision = retrain(workspace.engine, workspace.settings, model_params=SMALL_GBM)

    as_of = load_ledger(workspace.engine).as_of
    assert decision.window_from == f"{as_of - pd.Timedelta(days=90):%Y-%m-%d}"
    assert not decision.window_fallback
    assert not decision.champion_saw_window
    assert "optimistic" not in decision.reason
    assert decision.champion_before == old
    assert decision.promoted, decision.reason
    # The twin learned the new regime from the labels of the months after the change; the
    # champion never saw them. (A window right after the champion's training data would give
    # the twin the champion's own data, and no such gap.)
    gain = decision.challenger_metrics["roc_auc"] - decision.champion_metrics["roc_auc"]
    assert gain > 0.05
    assert decision.challenger_metrics["roc_auc"] > 0.9
    assert _registry(workspace).champion_version() == decision.challenger


def test_a_champion_that_saw_the_window_is_flagged_in_the_reason(workspace) -> None:
    as_of = load_ledger(workspace.engine).as_of
    # Trained a month ago: two of the window's three months were in its training data.
    recent = _install_champion(workspace, shuffled=False, until=as_of - pd.Timedelta(days=30))
    trained_to = _registry(workspace).versions()[0]["trained_to"]

    decision = retrain(workspace.engine, workspace.settings, model_params=SMALL_GBM)

    window_from = pd.Timestamp(decision.window_from)
    assert window_from == as_of - pd.Timedelta(days=90)
    assert window_from <= pd.Timestamp(trained_to) < as_of - pd.Timedelta(days=30)
    assert decision.champion_saw_window
    assert not decision.window_fallback
    assert decision.champion_before == recent
    assert (
        f"the champion trained on invoices up to {trained_to:%Y-%m-%d}, inside the window "
        f"from {decision.window_from} (its numbers are optimistic, so the comparison leans "
        "towards keeping it)"
    ) in decision.reason
    assert decision.champion_after == (decision.challenger if decision.promoted else recent)
    rows = {row["version"]: row for row in _registry(workspace).versions()}
    assert rows[decision.challenger]["metrics"]["champion_saw_window"] is True
    assert rows[decision.challenger]["decision"].endswith(decision.reason)


@pytest.mark.postgres
def test_installations_in_two_schemas_of_one_database_do_not_share_a_lock(tmp_path) -> None:
    require_postgres()
    with postgres_schema() as first_url, postgres_schema() as second_url:
        engines = [make_engine(url) for url in (first_url, second_url, first_url)]
        first, second, first_again = engines
        try:
            with exclusive_lock(first, tmp_path, "job", wait=False) as held_first:
                with exclusive_lock(second, tmp_path, "job", wait=False) as held_second:
                    assert held_first and held_second
                # The same schema is refused while the lock is held.
                with exclusive_lock(first_again, tmp_path, "job", wait=False) as again:
                    assert not again
        finally:
            for engine in engines:
                engine.dispose()
