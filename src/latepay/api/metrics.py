"""Prometheus metrics of the service: requests, latency, scores by tier, the champion.

Each app has its own registry, so several apps in one process (tests) do not share counts.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Outcomes of a scheduled job's run (see latepay.api.scheduler).
JOB_OUTCOMES = ("ok", "failed", "busy")
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
        )
        self.live_roc_auc = Gauge(
            "latepay_live_roc_auc",
            "ROC AUC of the scores at issuance on matured invoices, as of the last "
            "GET /v1/models/performance without since; model_version 'all' is every version.",
            ["model_version"],
            registry=self.registry,
        )
        self.champion = Gauge(
            "latepay_champion_info",
            "The champion model being served (value 1).",
            ["version"],
            registry=self.registry,
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
        )
        self.job_last_outcome = Gauge(
            "latepay_job_last_outcome",
            "The outcome of each scheduled job's last run (value 1).",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.drift_alert = Gauge(
            "latepay_drift_alert",
            "1 when the last scheduled drift report had a feature or the score at or above "
            "drift_alert_psi, else 0.",
            registry=self.registry,
        )

    def drift(self, rows) -> None:
        """Publish the latest drift report (rows with feature, kind and psi)."""
        self.drift_psi.clear()
        for row in rows:
            self.drift_psi.labels(feature=row.feature, kind=row.kind).set(row.psi)

    def job_finished(self, job: str, outcome: str, finished_at: float) -> None:
        """Count a run of a scheduled job and keep its time and outcome."""
        self.job_runs.labels(job, outcome).inc()
        self.job_last_run.labels(job).set(finished_at)
        for known in JOB_OUTCOMES:
            self.job_last_outcome.labels(job, known).set(1 if known == outcome else 0)

    def live_performance(self, report) -> None:
        """Publish a live performance report's ROC AUC, overall ("all") and by model version."""
        self.live_roc_auc.clear()
        for group in [report.overall, *report.by_model_version]:
            if group.roc_auc is not None:
                self.live_roc_auc.labels(model_version=group.group).set(group.roc_auc)

    def serving(self, version: str | None) -> None:
        self.champion.clear()
        if version is not None:
            self.champion.labels(version=version).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


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
