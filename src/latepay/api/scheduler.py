"""The jobs ``latepay serve`` runs by itself: reminders, segments, drift and retraining.

Each job has its own interval setting (``LATEPAY_SCHEDULE_*_SECONDS``; 0 turns it off) and its
own asyncio task, started in the app's lifespan. A run happens one interval after start-up,
then one interval after the previous run ended, in a worker thread (``asyncio.to_thread``) so
that requests are never kept waiting. Every run is logged and counted in ``/metrics``
(``latepay_job_runs``, ``latepay_job_last_run_timestamp_seconds``, ``latepay_job_last_outcome``);
an exception fails that run only: the server and the other jobs go on, and the job runs again
at its next turn.

**One run at a time across servers.** A run holds its job's lock
(:func:`latepay.learning.retrain.exclusive_lock`: a PostgreSQL advisory lock, or a file lock in
the model folder) without waiting for it: when another server's run holds it, this server skips
its turn (outcome ``busy``) rather than doing the same work again right after.

The jobs:

``reminders``
    Plans and sends the reminders due today, as ``latepay remind`` does; sending is exactly
    once per step even across concurrent runs (:mod:`latepay.actions.reminders`).
``segments``
    Recomputes every customer's segment and records the changes
    (:func:`latepay.actions.segment_history.record_segment_changes`).
``drift``
    Computes the drift report, publishes it in ``/metrics`` (``latepay_drift_psi``,
    ``latepay_drift_alert``) and remembers since when it alerts (any feature or the score at or
    above ``drift_alert_psi``), until a report without drift. The memory is the server's own: a
    server restarted mid-alert learns of it at its next drift run.
``retrain``
    Checks whether a retrain is due (:func:`retrain_due`) and, if so, runs
    :func:`latepay.learning.retrain.retrain`, which promotes the challenger only when it is
    better; the champion watcher then swaps the served model.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from latepay.actions.mail import SmtpMailer
from latepay.actions.policies import load_policy
from latepay.actions.reminders import plan_reminders, send_reminders
from latepay.actions.segment_history import SEGMENTS_LOCK, record_segment_changes
from latepay.api.metrics import JOB_OUTCOMES, ApiMetrics
from latepay.config import Settings
from latepay.db.tables import as_utc, utcnow
from latepay.features import LabelSpec, labels_known_at, load_ledger
from latepay.learning.drift import drift_report
from latepay.learning.retrain import exclusive_lock, retrain
from latepay.models.registry import ModelRegistry

logger = logging.getLogger(__name__)

OK, FAILED, BUSY = JOB_OUTCOMES


@dataclass(frozen=True)
class Job:
    """A periodic job: ``run`` does the work and returns a line for the log."""

    name: str
    interval_seconds: float
    lock: str
    run: Callable[[], str]


@dataclass(frozen=True)
class RetrainCheck:
    """Whether a retrain is due, and why (or why not), in words."""

    due: bool
    reason: str


def retrain_due(
    now: dt.datetime,
    *,
    newest_trained_at: dt.datetime | None,
    training_rows: int,
    new_labels: int,
    drift_alert_at: dt.datetime | None,
    interval: dt.timedelta,
    new_label_share: float,
) -> RetrainCheck:
    """Is a retrain due at ``now``?

    It is when the newest model (champion or candidate) was trained ``interval`` ago or more,
    when the labels that became known since then reach ``new_label_share`` of its training
    rows, or when drift alerted after it was trained. The newest model, not the champion, is
    the reference: a challenger kept as a candidate has just been judged on those labels and
    that drift, so judging again at once would only repeat its verdict.

    Parameters
    ----------
    now : datetime
    newest_trained_at : datetime or None
        When the newest registered model was made; None when there is none (``latepay
        train`` makes the first one, the scheduler does not).
    training_rows : int
        How many labelled invoices the newest model was trained on.
    new_labels : int
        Invoices whose label became known after the newest model's label cut-off.
    drift_alert_at : datetime or None
        When the drift job's current alert began; None when its last report had no drift.
    interval : timedelta
        Longest time between retrains.
    new_label_share : float
        Share of ``training_rows`` that new labels must reach to retrain early.

    Returns
    -------
    RetrainCheck
    """
    if newest_trained_at is None:
        return RetrainCheck(False, "no model yet; `latepay train` makes the first one")
    age = now - newest_trained_at
    if age >= interval:
        return RetrainCheck(
            True, f"the newest model is {_days(age)} old (retrain every {_days(interval)})"
        )
    share = new_labels / training_rows if training_rows else float("inf")
    labels = f"{new_labels} new labels, {share:.1%} of its {training_rows} training rows"
    if new_labels and share >= new_label_share:
        return RetrainCheck(True, f"{labels} (threshold {new_label_share:.0%})")
    if drift_alert_at is not None and drift_alert_at > newest_trained_at:
        return RetrainCheck(True, f"drift alert at {drift_alert_at:%Y-%m-%d %H:%M} UTC")
    return RetrainCheck(False, f"not due: the newest model is {_days(age)} old; {labels}")


def new_labels_since(
    invoices: pd.DataFrame, label_cutoff: pd.Timestamp, now: pd.Timestamp, spec: LabelSpec
) -> int:
    """How many of ``invoices`` have a label known before ``now`` but not before
    ``label_cutoff`` (see :func:`latepay.features.labels_known_at`): settled since, or unpaid
    and past due (plus grace days) since."""
    known_then = labels_known_at(invoices, label_cutoff, spec).index
    known_now = labels_known_at(invoices, now, spec).index
    return len(known_now.difference(known_then))


def _days(span: dt.timedelta) -> str:
    return f"{span.total_seconds() / 86400:.1f} days"


class ServerJobs:
    """The jobs of one server, and what they remember between runs (the last drift alert)."""

    def __init__(self, engine: Engine, settings: Settings, metrics: ApiMetrics) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.drift_alert_at: dt.datetime | None = None

    def jobs(self) -> list[Job]:
        """The jobs switched on in the settings."""
        settings = self.settings
        jobs = [
            Job("reminders", settings.schedule_reminders_seconds, "reminders", self.remind),
            Job("segments", settings.schedule_segments_seconds, SEGMENTS_LOCK, self.segments),
            Job("drift", settings.schedule_drift_seconds, "drift", self.drift),
            # Not the retrain's own lock: retrain() takes that one, and waits for it.
            Job("retrain", settings.schedule_retrain_seconds, "retrain-check", self.retrain),
        ]
        return [job for job in jobs if job.interval_seconds > 0]

    def remind(self) -> str:
        day = utcnow().date()
        policy = load_policy(self.settings.reminder_policy)
        planned = plan_reminders(self.engine, day, policy, settings=self.settings)
        report = send_reminders(self.engine, planned, SmtpMailer(self.settings))
        counts = ", ".join(f"{n} {status}" for status, n in report.counts().items())
        return f"reminders of {day:%Y-%m-%d}: {counts or 'nothing due'}"

    def segments(self) -> str:
        run = record_segment_changes(self.engine, self.settings)
        return (
            f"segments as of {run.as_of:%Y-%m-%d}: {run.customers} customers, {run.changed} changed"
        )

    def drift(self) -> str:
        report = drift_report(self.engine, self.settings)
        self.metrics.drift(report.rows)
        drifted = [row.feature for row in report.rows if row.status == "drift"]
        self.metrics.drift_alert.set(1 if drifted else 0)
        # When the alert began: one drift keeps triggering one retrain, not one per report.
        self.drift_alert_at = (self.drift_alert_at or utcnow()) if drifted else None
        if drifted:
            return f"drift alert against {report.champion}: {', '.join(drifted)}"
        return f"no drift against {report.champion}"

    def retrain(self) -> str:
        check = self.retrain_check()
        if not check.due:
            return check.reason
        decision = retrain(self.engine, self.settings)
        verdict = "promoted" if decision.promoted else "kept as candidate"
        if decision.rolled_back_to:
            verdict += f"; rolled back to {decision.rolled_back_to}"
        return (
            f"retrained because {check.reason}: {decision.challenger} {verdict}: {decision.reason}"
        )

    def retrain_check(self) -> RetrainCheck:
        """:func:`retrain_due` with the registry's newest model and the ledger's labels now."""
        registry = ModelRegistry(self.settings.model_dir, self.engine)
        versions = registry.versions()
        newest = versions[0] if versions else None
        training_rows = new_labels = 0
        if newest is not None:
            metadata = registry.metadata(newest["version"])
            ledger = load_ledger(self.engine)
            new_labels = new_labels_since(
                ledger.invoices,
                pd.Timestamp(metadata["label_cutoff"]),
                ledger.as_of,
                self.settings.label_spec(),
            )
            training_rows = metadata["training_rows"]
        return retrain_due(
            utcnow(),
            newest_trained_at=as_utc(newest["created_at"]) if newest else None,
            training_rows=training_rows,
            new_labels=new_labels,
            drift_alert_at=self.drift_alert_at,
            interval=dt.timedelta(days=self.settings.retrain_interval_days),
            new_label_share=self.settings.retrain_new_label_share,
        )


class Scheduler:
    """Runs each job at its interval, in a worker thread, from the running event loop.

    Parameters
    ----------
    engine : Engine
        Where the jobs' locks live (PostgreSQL), with ``lock_folder`` for other databases.
    lock_folder : Path
        The model folder: lock files when the database is not PostgreSQL.
    metrics : ApiMetrics
    jobs : list of Job
    """

    def __init__(
        self, engine: Engine, lock_folder: Path, metrics: ApiMetrics, jobs: list[Job]
    ) -> None:
        self.engine = engine
        self.lock_folder = lock_folder
        self.metrics = metrics
        self.jobs = jobs
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        """Start one task per job on the running event loop."""
        if self._tasks:
            raise RuntimeError("the scheduler is already running; stop it first")
        for job in self.jobs:
            logger.info("scheduled job %s every %s s", job.name, job.interval_seconds)
            self._tasks.append(asyncio.create_task(self._every(job), name=f"latepay-{job.name}"))

    async def stop(self) -> None:
        """Stop scheduling; a run under way finishes in its thread."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _every(self, job: Job) -> None:
        while True:
            await asyncio.sleep(job.interval_seconds)
            await asyncio.to_thread(self.run_once, job)

    def run_once(self, job: Job) -> str:
        """Run ``job`` once under its lock; log and count the outcome, never raise."""
        started = time.monotonic()
        try:
            with exclusive_lock(self.engine, self.lock_folder, job.lock, wait=False) as held:
                summary = job.run() if held else None
        except Exception:
            logger.exception("scheduled job %s failed", job.name)
            outcome = FAILED
        else:
            if summary is None:
                logger.info("scheduled job %s skipped: another process is running it", job.name)
                outcome = BUSY
            else:
                seconds = time.monotonic() - started
                logger.info("scheduled job %s: %s (%.1f s)", job.name, summary, seconds)
                outcome = OK
        self.metrics.job_finished(job.name, outcome, time.time())
        return outcome
