"""Databases shared by this folder's tests, a real HTTP receiver on 127.0.0.1, scored frames,
and ways to run deliveries and read them."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.conftest import postgres_schema, require_postgres

from latepay.db import make_engine, upgrade_to_head
from latepay.db.tables import Base, WebhookDelivery
from latepay.webhooks import DeliveryStats, deliver_due, enqueue_score_events


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('webhooks') / 'latepay.db'}")
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_postgresql() -> Iterator[Engine]:
    require_postgres()
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade_to_head(engine)
        yield engine
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty database of each kind, as the project-wide fixture gives.

    Migrated once per session and emptied after each test: migrating for every test would take
    most of this folder's run time.
    """
    engine = request.getfixturevalue(f"migrated_{request.param}")
    yield engine
    _empty(engine)


@pytest.fixture
def sqlite_engine(migrated_sqlite: Engine) -> Iterator[Engine]:
    """A migrated, empty SQLite database, for tests where the back end does not matter."""
    yield migrated_sqlite
    _empty(migrated_sqlite)


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the test server saw; ``failures`` answers that many requests with a 500 first."""

    url: str
    failures: int = 0
    requests: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _ReceiverServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        receiver = self.server.receiver
        with receiver.lock:
            receiver.requests.append(ReceivedRequest(self.path, dict(self.headers), body))
            failing = receiver.failures > 0
            receiver.failures -= failing
        answer = b"receiver is down" if failing else b""
        self.send_response(500 if failing else 204)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows the assertions, not an access log."""


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 resets connections when several workers post at once.
    request_queue_size = 128
    receiver: Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = _ReceiverServer(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    server.receiver = Receiver(url=f"http://{host}:{port}/hooks/latepay")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server.receiver
    server.shutdown()
    server.server_close()
    thread.join()


def scored_frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """A frame shaped like score_invoices' from (invoice_id, risk_tier, p_late) triples."""
    return pd.DataFrame(
        {
            "invoice_id": [invoice_id for invoice_id, _, _ in rows],
            "p_late": [p_late for _, _, p_late in rows],
            "p_on_time": [1 - p_late for _, _, p_late in rows],
            "p_late_1_30": [p_late / 2 for _, _, p_late in rows],
            "p_late_31_plus": [p_late / 2 for _, _, p_late in rows],
            "expected_days_late": [12.5 * p_late for _, _, p_late in rows],
            "risk_tier": [tier for _, tier, _ in rows],
            "model_version": "gbm-2026-01-01",
            "inputs_hash": "0" * 16,
            "reasons": [
                [
                    {
                        "feature": "hist_late_count",
                        "value": 6.0,
                        "contribution": 0.8,
                        "sentence": "paid 6 of 10 earlier invoices late",
                    }
                ]
                for _ in rows
            ],
        }
    )


def enqueue(engine: Engine, scored: pd.DataFrame, previous: dict[str, str] | None = None) -> int:
    with engine.begin() as connection:
        return enqueue_score_events(connection, scored, previous or {})


def deliver(engine: Engine, now: dt.datetime | None = None, **options: Any) -> DeliveryStats:
    """One deliver_due round on a fresh event loop, as a sync test can run it."""

    async def round_() -> DeliveryStats:
        async with httpx.AsyncClient() as client:
            return await deliver_due(engine, client, now=now, **options)

    return asyncio.run(round_())


def deliveries(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return connection.execute(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def as_utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive UTC datetimes, PostgreSQL aware ones."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
