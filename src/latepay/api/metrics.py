"""Prometheus metrics of the service: requests, latency, scores by tier, the champion.

Each app has its own registry, so several apps in one process (tests) do not share counts.

**Several server processes** (``latepay serve --workers N``) share their metrics through
prometheus_client's multiprocess mode: ``serve`` gives them one folder
(``PROMETHEUS_MULTIPROC_DIR``) where each keeps its values, and ``/metrics``, whichever process
answers, merges them: counters and histograms summed over the processes, each gauge at the
value any process set last (``mostrecent``). A series cannot be removed from another
process's file, so a gauge series that a new report or champion replaces is taken back by
setting it to NaN, in every process's view, and ``/metrics`` leaves such series out.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Outcomes of a scheduled job's run (see latepay.api.scheduler).
JOB_OUTCOMES = ("ok", "failed", "busy")
#: Where the processes of one server keep their metrics (see the module docstring).
SHARED_FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "latepay_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "latepay_http_request_duration_seconds",
            "Time from request to the end of the answer.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scores = Counter(
            "latepay_scores",
            "Invoices scored, by risk tier.",
            ["risk_tier"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "latepay_scoring_group_size",
            "Requests handled together in one scoring call.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.group_duration = Histogram(
            "latepay_scoring_group_duration_seconds",
            "Time one scoring group took to store, score and record its invoices.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.group_cpu = Counter(
            "latepay_scoring_group_cpu_seconds",
            "CPU time the scoring groups took in the thread that handled them (threads the "
            "model library starts for itself are not counted).",
            registry=self.registry,
        )
        self.feature_source = Counter(
            "latepay_scoring_group_features",
            "Scoring groups by where their features came from: the prepared ledger snapshot, "
            "or the database (no snapshot yet, or one of the group's customers changed since).",
            ["source"],
            registry=self.registry,
        )
        self.drift_psi = Gauge(
            "latepay_drift_psi",
            "Population stability index, recent window vs. the champion's training window, "
            "as of the last drift report.",
            ["feature", "kind"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.live_roc_auc = Gauge(
            "latepay_live_roc_auc",
            "ROC AUC of the scores at issuance on matured invoices, as of the last "
            "GET /v1/models/performance without since; model_version 'all' is every version.",
            ["model_version"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.champion = Gauge(
            "latepay_champion_info",
            "The champion model being served (value 1).",
            ["version"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.job_runs = Counter(
            "latepay_job_runs",
            "Runs of the scheduled jobs, by outcome: ok, failed, or busy (another process "
            "held the job's lock, so this one skipped its turn).",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.job_last_run = Gauge(
            "latepay_job_last_run_timestamp_seconds",
            "When each scheduled job last finished a run (Unix time).",
            ["job"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.job_last_outcome = Gauge(
            "latepay_job_last_outcome",
            "The outcome of each scheduled job's last run (value 1).",
            ["job", "outcome"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.drift_alert = Gauge(
            "latepay_drift_alert",
            "1 when the last scheduled drift report had a feature or the score at or above "
            "drift_alert_psi, else 0.",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )

    def drift(self, rows) -> None:
        """Publish the latest drift report (rows with feature, kind and psi)."""
        self._replace(
            self.drift_psi, [({"feature": r.feature, "kind": r.kind}, r.psi) for r in rows]
        )

    def job_finished(self, job: str, outcome: str, finished_at: float) -> None:
        """Count a run of a scheduled job and keep its time and outcome."""
        self.job_runs.labels(job, outcome).inc()
        self.job_last_run.labels(job).set(finished_at)
        for known in JOB_OUTCOMES:
            self.job_last_outcome.labels(job, known).set(1 if known == outcome else 0)

    def live_performance(self, report) -> None:
        """Publish a live performance report's ROC AUC, overall ("all") and by model version."""
        self._replace(
            self.live_roc_auc,
            [
                ({"model_version": group.group}, group.roc_auc)
                for group in [report.overall, *report.by_model_version]
                if group.roc_auc is not None
            ],
        )

    def serving(self, version: str | None) -> None:
        self._replace(self.champion, [] if version is None else [({"version": version}, 1)])

    def render(self) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Published(self._source()))
        return generate_latest(registry)

    def _source(self) -> CollectorRegistry | MultiProcessCollector:
        if os.environ.get(SHARED_FOLDER_VARIABLE):
            return MultiProcessCollector(None)
        return self.registry

    def _replace(self, gauge: Gauge, series: list[tuple[dict[str, str], float]]) -> None:
        """Publish ``series`` (labels and value) as the whole of ``gauge``: the others that
        this or another process published are taken back (set to NaN)."""
        keep = {frozenset(labels.items()) for labels, _ in series}
        name = gauge.describe()[0].name
        for metric in _Published(self._source()).collect():
            if metric.name != name:
                continue
            for sample in metric.samples:
                if frozenset(sample.labels.items()) not in keep:
                    gauge.labels(**sample.labels).set(math.nan)
        for labels, value in series:
            gauge.labels(**labels).set(value)


class _Published:
    """The metrics of ``source`` without the gauge series taken back (NaN)."""

    def __init__(self, source: CollectorRegistry | MultiProcessCollector) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        metrics: Iterable[Metric] = self.source.collect()
        for metric in metrics:
            if metric.type == "gauge":
                metric.samples = [s for s in metric.samples if not math.isnan(s.value)]
            yield metric


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            # Unmatched paths share one label, so scanning random URLs cannot grow the series.
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
