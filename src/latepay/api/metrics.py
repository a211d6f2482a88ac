"""Prometheus metrics of the service: requests, latency, scores by tier, the champion.

Each app has its own registry, so several apps in one process (tests) do not share counts.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
        self.drift_psi = Gauge(
            "latepay_drift_psi",
            "Population stability index, recent window vs. the champion's training window, "
            "as of the last drift report.",
            ["feature", "kind"],
            registry=self.registry,
        )
        self.champion = Gauge(
            "latepay_champion_info",
            "The champion model being served (value 1).",
            ["version"],
            registry=self.registry,
        )

    def drift(self, rows) -> None:
        """Publish the latest drift report (rows with feature, kind and psi)."""
        self.drift_psi.clear()
        for row in rows:
            self.drift_psi.labels(feature=row.feature, kind=row.kind).set(row.psi)

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
