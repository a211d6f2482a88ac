"""The HTTP API (GUIDE §5): FastAPI app factory, start-up and shut-down.

At start-up the champion model is loaded once; a background task swaps in a newly promoted
one. Posted invoices go through a :class:`~latepay.api.batching.MicroBatcher`, so requests
arriving together share one model call, and their features come from the ledger snapshot the
service keeps (:class:`~latepay.scoring.ledger_state.LedgerState`) while it is current.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import version as package_version
from typing import Any

import pandas as pd
from fastapi import FastAPI
from sqlalchemy import Connection

from latepay.api.auth import KeyChecker
from latepay.api.batching import MicroBatcher
from latepay.api.champion import Champion
from latepay.api.errors import install_error_handlers
from latepay.api.metrics import ApiMetrics, MetricsMiddleware
from latepay.api.routes import (
    customers,
    feedback,
    forecast,
    invoices,
    models,
    scoring,
    system,
    webhooks,
    worklist,
)
from latepay.api.scheduler import Scheduler, ServerJobs
from latepay.config import Settings, get_settings
from latepay.dashboard import routes as dashboard
from latepay.dashboard.session import SessionSigner
from latepay.db.session import make_engine
from latepay.errors import ConflictError
from latepay.models.registry import ModelRegistry
from latepay.scoring.issuance import IssuanceResult, issue_invoices
from latepay.scoring.ledger_state import LedgerState
from latepay.webhooks import WebhookDispatcher, announce_scores

MAX_REQUESTS_PER_GROUP = 64


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for the database and model registry of ``settings``."""
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    metrics = ApiMetrics()
    champion = Champion(ModelRegistry(settings.model_dir, engine))

    ledger_state = LedgerState(
        engine, on_group=lambda source: metrics.feature_source.labels(source).inc()
    )
    dispatcher = WebhookDispatcher(engine)
    scheduler = Scheduler(
        engine, settings.model_dir, metrics, ServerJobs(engine, settings, metrics).jobs()
    )

    def issue(requests: Sequence[list[dict[str, Any]]]) -> list[IssuanceResult | ConflictError]:
        events = 0

        def enqueue_events(connection: Connection, scored: pd.DataFrame) -> None:
            nonlocal events
            events += announce_scores(connection, scored)

        started, cpu_started = time.perf_counter(), time.thread_time()
        results = issue_invoices(
            engine,
            champion.get(),
            requests,
            tier_cutoffs=settings.risk_tier_cutoffs,
            on_scored=enqueue_events,
            ledger_state=ledger_state,
        )
        metrics.group_duration.observe(time.perf_counter() - started)
        metrics.group_cpu.inc(time.thread_time() - cpu_started)
        if events:
            dispatcher.notify()
        metrics.batch_size.observe(len(requests))
        for result in results:
            if isinstance(result, IssuanceResult):
                for score, created in zip(result.scores, result.created, strict=True):
                    if created:
                        metrics.scores.labels(score["risk_tier"]).inc()
        return results

    issuer: MicroBatcher[list[dict[str, Any]], IssuanceResult] = MicroBatcher(
        issue, max_items=MAX_REQUESTS_PER_GROUP
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(champion.refresh)
        metrics.serving(champion.version)
        # What is loaded by now lives as long as the server. Left to the collector, each of
        # its full passes over it held every request for ~120 ms, about once a second under
        # load; frozen, those objects are never scanned again.
        gc.collect()
        gc.freeze()
        if champion.version is not None:
            ledger_state.refresh_in_background(champion.get().spec_.grace_days)
        issuer.start()
        await dispatcher.start()
        scheduler.start()
        watcher = asyncio.create_task(
            champion.watch(settings.model_refresh_seconds, on_change=metrics.serving)
        )
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await scheduler.stop()
            await issuer.stop()
            await dispatcher.stop()
            engine.dispose()

    app = FastAPI(
        title="latepay",
        version=package_version("latepay"),
        description="Scores invoices at issuance: probability of late payment, why, what to do.",
        lifespan=lifespan,
        max_body_size=settings.api_max_body_bytes,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.keys = KeyChecker(engine)
    app.state.champion = champion
    app.state.metrics = metrics
    app.state.issuer = issuer
    app.state.ledger_state = ledger_state
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_error_handlers(app)
    routers = (invoices, scoring, feedback, customers, worklist, forecast, models, webhooks)
    for module in (*routers, system):
        app.include_router(module.router)
    app.state.sessions = SessionSigner(
        settings.session_secret.get_secret_value().encode() if settings.session_secret else None,
        lifetime_seconds=settings.session_hours * 3600,
    )
    dashboard.install(app)
    return app
