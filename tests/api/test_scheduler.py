"""Jobs of ``latepay serve``: when a retrain is due, failures stay contained, one run at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
from prometheus_client import generate_latest
from sqlalchemy import Engine
from tests.learning.conftest import SMALL_GBM

# Fixtures of tests/learning: a generated ledger, copied with an empty model folder per test.
from tests.learning.conftest import imported_database as imported_database
from tests.learning.conftest import workspace as workspace

from latepay.api import scheduler as scheduler_module
from latepay.api.metrics import ApiMetrics
from latepay.api.scheduler import (
    BUSY,
    FAILED,
    OK,
    Job,
    Scheduler,
    ServerJobs,
    new_labels_since,
    retrain_due,
)
from latepay.config import Settings
from latepay.evaluation.backtest import default_cutoff
from latepay.features import labels_known_at, load_ledger
from latepay.features.labels import LabelSpec
from latepay.learning.drift import DriftReport, DriftRow
from latepay.models.registry import ModelRegistry
from latepay.models.training import data_fingerprint, make_model, training_data

NOW = dt.datetime(2024, 6, 10, 12, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)


def due(**overrides):
    arguments = {
        "newest_trained_at": NOW - dt.timedelta(days=2),
        "training_rows": 1000,
        "new_labels": 50,
        "drift_alert_at": None,
        "interval": WEEK,
        "new_label_share": 0.10,
    }
    return retrain_due(NOW, **{**arguments, **overrides})


def test_nothing_is_due_for_a_young_model_with_few_new_labels_and_no_drift() -> None:
    check = due()
    assert not check.due
    # 50 / 1000 = 5%, under the 10% threshold.
    assert "50 new labels, 5.0% of its 1000 training rows" in check.reason


def test_the_interval_elapsed() -> None:
    assert due(newest_trained_at=NOW - WEEK).due
    assert "7.0 days old" in due(newest_trained_at=NOW - WEEK).reason
    assert not due(newest_trained_at=NOW - WEEK + dt.timedelta(minutes=1)).due


def test_new_labels_reaching_their_share_of_the_training_rows() -> None:
    # 10% of 1000 training rows is 100 labels: 100 triggers, 99 does not.
    assert due(new_labels=100).due
    assert "100 new labels, 10.0% of its 1000 training rows" in due(new_labels=100).reason
    assert not due(new_labels=99).due
    # 25 / 200 = 12.5%.
    assert due(new_labels=25, training_rows=200).due


def test_a_drift_alert_after_the_newest_model_was_trained() -> None:
    trained = NOW - dt.timedelta(days=2)
    assert due(drift_alert_at=trained + dt.timedelta(hours=1)).due
    # The newest model came after the alert: it was trained on the drifted data already.
    assert not due(drift_alert_at=trained - dt.timedelta(hours=1)).due


def test_no_model_means_no_scheduled_retrain() -> None:
    check = due(newest_trained_at=None, new_labels=5000)
    assert not check.due
    assert "latepay train" in check.reason


def test_new_labels_count_what_became_known_between_the_two_days() -> None:
    day = pd.Timestamp
    invoices = pd.DataFrame(
        {
            "invoice_id": ["A", "B", "C", "D", "E", "F"],
            "due_date": [
                day("2024-01-10"),
                day("2024-02-10"),
                day("2024-02-20"),
                day("2024-03-10"),
                day("2024-01-20"),
                day("2024-02-10"),
            ],
            "settled_date": [day("2024-01-05"), day("2024-02-15"), None, None, None, None],
            "is_credit_note": [False, False, False, False, False, True],
        }
    )
    # By 2024-02-01 A (settled) and E (unpaid, past due) are known. By 2024-03-01 also
    # B (settled 02-15) and C (unpaid, due 02-20); D is not due yet, F is a credit note.
    spec = LabelSpec(grace_days=0)
    assert new_labels_since(invoices, day("2024-02-01"), day("2024-03-01"), spec) == 2
    # With 10 grace days C (9 days past due on 03-01) is not decided yet.
    spec = LabelSpec(grace_days=10)
    assert new_labels_since(invoices, day("2024-02-01"), day("2024-03-01"), spec) == 1


def test_the_drift_job_publishes_and_remembers_an_alert(sqlite_engine, monkeypatch) -> None:
    def report(rows):
        return DriftReport(
            "gbm-1", "2023-01-01", "2023-12-31", 900, "2024-01-01", "2024-03-31", 90, rows
        )

    metrics = ApiMetrics()
    jobs = ServerJobs(sqlite_engine, Settings(), metrics)
    drifted = [
        DriftRow("amount", "numeric", 0.4, "drift"),
        DriftRow("issue_month", "seasonal", 2.0, "seasonal"),
    ]
    monkeypatch.setattr(scheduler_module, "drift_report", lambda *args, **kwargs: report(drifted))
    assert jobs.drift() == "drift alert against gbm-1: amount"
    began = jobs.drift_alert_at
    assert began is not None
    # The alert goes on: it began at the first report, so it triggers one retrain, not many.
    jobs.drift()
    assert jobs.drift_alert_at == began
    assert metric(metrics, "latepay_drift_alert") == 1
    assert (
        'latepay_drift_psi{feature="amount",kind="numeric"} 0.4'
        in generate_latest(metrics.registry).decode()
    )

    # Seasonal shifts alone are not drift: the alert is cleared.
    monkeypatch.setattr(
        scheduler_module, "drift_report", lambda *args, **kwargs: report(drifted[1:])
    )
    assert jobs.drift() == "no drift against gbm-1"
    assert jobs.drift_alert_at is None
    assert metric(metrics, "latepay_drift_alert") == 0


def test_an_interval_of_zero_turns_a_job_off(sqlite_engine) -> None:
    settings = Settings(schedule_reminders_seconds=900, schedule_drift_seconds=0)
    names = [job.name for job in ServerJobs(sqlite_engine, settings, ApiMetrics()).jobs()]
    assert names == ["reminders", "segments", "retrain"]
    # Reminders are off unless switched on: real mail must be asked for.
    assert "reminders" not in [
        job.name for job in ServerJobs(sqlite_engine, Settings(), ApiMetrics()).jobs()
    ]


def metric(metrics: ApiMetrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_a_failing_job_is_logged_and_the_others_keep_running(
    sqlite_engine: Engine, tmp_path: Path, caplog
) -> None:
    ticks: list[float] = []

    def boom() -> str:
        raise RuntimeError("the mail server is on fire")

    def tick() -> str:
        ticks.append(time.monotonic())
        return "ticked"

    metrics = ApiMetrics()
    jobs = [Job("boom", 0.05, "boom", boom), Job("tick", 0.05, "tick", tick)]
    scheduler = Scheduler(sqlite_engine, tmp_path, metrics, jobs)

    async def serve_for(seconds: float) -> None:
        scheduler.start()
        await asyncio.sleep(seconds)
        await scheduler.stop()

    with caplog.at_level(logging.INFO, logger="latepay.api.scheduler"):
        asyncio.run(serve_for(1.0))

    failures = metric(metrics, "latepay_job_runs_total", job="boom", outcome=FAILED)
    assert failures >= 3
    assert len(ticks) >= 3
    assert metric(metrics, "latepay_job_runs_total", job="tick", outcome=OK) == len(ticks)
    assert metric(metrics, "latepay_job_last_outcome", job="boom", outcome=FAILED) == 1
    assert metric(metrics, "latepay_job_last_outcome", job="boom", outcome=OK) == 0
    assert metric(metrics, "latepay_job_last_run_timestamp_seconds", job="tick") > 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == failures
    assert errors[0].getMessage() == "scheduled job boom failed"
    assert "the mail server is on fire" in caplog.text  # the traceback is in the log
    assert "scheduled job tick: ticked" in caplog.text


def test_the_lock_lets_one_run_at_a_time_across_servers(engine: Engine, tmp_path: Path) -> None:
    """Two schedulers (two servers) on one database and model folder: one runs, one skips."""
    running = threading.Event()
    release = threading.Event()
    runs: list[str] = []

    def slow() -> str:
        runs.append("run")
        running.set()
        release.wait(timeout=10)
        return "done"

    job = Job("slow", 60, "slow", slow)
    first = Scheduler(engine, tmp_path, ApiMetrics(), [job])
    second = Scheduler(engine, tmp_path, ApiMetrics(), [job])
    outcomes: list[str] = []
    holder = threading.Thread(target=lambda: outcomes.append(first.run_once(job)))
    holder.start()
    assert running.wait(timeout=10)
    assert second.run_once(job) == BUSY
    release.set()
    holder.join(timeout=10)
    assert outcomes == [OK]
    assert runs == ["run"]
    # Released when the run ended: the next turn runs.
    assert second.run_once(job) == OK
    assert runs == ["run", "run"]


def test_different_jobs_do_not_block_each_other(sqlite_engine: Engine, tmp_path: Path) -> None:
    release = threading.Event()
    started = threading.Event()

    def hold() -> str:
        started.set()
        release.wait(timeout=10)
        return "held"

    scheduler = Scheduler(sqlite_engine, tmp_path, ApiMetrics(), [])
    holder = threading.Thread(target=scheduler.run_once, args=(Job("a", 60, "lock-a", hold),))
    holder.start()
    assert started.wait(timeout=10)
    assert scheduler.run_once(Job("b", 60, "lock-b", lambda: "ran")) == OK
    release.set()
    holder.join(timeout=10)


def test_the_retrain_job_reads_the_newest_model_and_the_ledger(workspace, monkeypatch) -> None:
    ledger = load_ledger(workspace.engine)
    spec = workspace.settings.label_spec()
    cutoff = default_cutoff(ledger, 0.3)
    data = training_data(ledger, cutoff=cutoff, spec=spec)
    model = make_model("gbm", **SMALL_GBM).fit(data)
    registry = ModelRegistry(workspace.settings.model_dir, workspace.engine)

    def register(label_cutoff: pd.Timestamp, training_rows: int) -> None:
        """Register ``model`` with the notes `latepay train` writes."""
        registry.register(
            model,
            data_hash=data_fingerprint(data),
            trained_from=data.issue_dates.iloc[0].date(),
            trained_to=data.issue_dates.iloc[-1].date(),
            metrics={},
            notes={"label_cutoff": f"{label_cutoff:%Y-%m-%d}", "training_rows": training_rows},
        )

    training_rows = len(data.is_late)
    register(cutoff, training_rows)
    known_now = len(labels_known_at(ledger.invoices, ledger.as_of, spec))
    new_labels = known_now - training_rows
    share = new_labels / training_rows
    assert share > 0.1  # 30% of the invoices came after the cut-off

    retrains = []

    def fake_retrain(engine, settings):
        retrains.append(engine)
        return SimpleNamespace(
            challenger="gbm-new", promoted=False, rolled_back_to=None, reason="not better"
        )

    monkeypatch.setattr(scheduler_module, "retrain", fake_retrain)
    settings = workspace.settings.model_copy(update={"retrain_new_label_share": share + 0.01})
    jobs = ServerJobs(workspace.engine, settings, ApiMetrics())
    expected = f"{new_labels} new labels, {share:.1%} of its {training_rows} training rows"
    assert jobs.retrain() == f"not due: the newest model is 0.0 days old; {expected}"
    assert retrains == []

    jobs.settings = workspace.settings  # the default 10% share
    assert jobs.retrain() == (
        f"retrained because {expected} (threshold 10%): gbm-new kept as candidate: not better"
    )
    assert retrains == [workspace.engine]

    # A newer model trained on everything known now resets the count.
    register(ledger.as_of, known_now)
    check = jobs.retrain_check()
    assert not check.due
    assert f"0 new labels, 0.0% of its {known_now} training rows" in check.reason
