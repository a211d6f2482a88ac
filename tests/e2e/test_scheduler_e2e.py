"""Two real ``latepay serve`` processes on one database (SQLite, PostgreSQL), jobs every 0.5 s.

Their reminder jobs run again and again, both servers at once, yet each customer's reminder
arrives at the loopback SMTP server exactly once; their segment jobs record each customer's
segment once, and ``GET /v1/customers/{id}`` shows it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.actions.conftest import add_customer, add_invoice

# The loopback SMTP server fixture of tests/actions.
from tests.actions.conftest import smtp_server as smtp_server
from tests.actions.test_segment_history import score
from tests.e2e.conftest import database_of, running_server

from latepay.actions.policies import load_policy
from latepay.api.keys import create_key
from latepay.db import make_engine, upgrade_to_head
from latepay.db.tables import CustomerSegmentChange, Reminder

JOB_SECONDS = "0.5"
WAIT_SECONDS = 90
#: One overdue step, two days after the due date, in every segment; no quiet days, so the
#: test sends on whatever weekday it runs.
POLICY = """\
max_step_age_days: 3
quiet_weekdays: []
segments:
""" + "".join(
    f"""\
  {segment}:
    channel: email
    max_contacts_per_week: 3
    steps:
      - {{days: 2, template: overdue_notice, tone: firm, escalation: 1}}
"""
    for segment in ("reliable", "watch", "at-risk", "critical")
)


def ledger_due_today(engine: sa.Engine, today: dt.date) -> None:
    """C1 owes 1000 at P(late) 0.3 with an on-time record: (0.3 + 0) / 2 = 0.15, reliable.
    C2 owes 3000 at 0.8 with a late record: (0.8 + 1) / 2 = 0.9, critical. Median open balance
    2000: C2 is high value (escalate), C1 low (automate). Both invoices were due two days ago,
    so the policy's +2 step is due today."""
    past_due = today - dt.timedelta(days=60)
    for customer_id, days_late, amount, p_late in (("C1", 0, 1000, 0.3), ("C2", 9, 3000, 0.8)):
        add_customer(engine, customer_id)
        add_invoice(
            engine,
            f"PAST-{customer_id}",
            customer_id,
            due=past_due,
            settled=past_due + dt.timedelta(days=days_late),
        )
        invoice_id = f"INV-{customer_id}"
        add_invoice(
            engine, invoice_id, customer_id, due=today - dt.timedelta(days=2), amount=amount
        )
        score(engine, invoice_id, p_late, as_of=today)


def job_runs(base_url: str, key: str) -> dict[tuple[str, str], float]:
    answer = httpx.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=5)
    answer.raise_for_status()
    text = answer.text
    pattern = r'latepay_job_runs_total\{job="(\w+)",outcome="(\w+)"\} ([0-9.e+]+)'
    return {(job, outcome): float(n) for job, outcome, n in re.findall(pattern, text)}


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_two_servers_send_each_reminder_once_and_record_segments(
    backend: str, tmp_path: Path, smtp_server
) -> None:
    with database_of(backend, tmp_path) as database_url:
        two_servers_send_once(database_url, tmp_path, smtp_server)


def two_servers_send_once(database_url: str, tmp_path: Path, smtp_server) -> None:
    inbox, port = smtp_server
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    today = dt.datetime.now(dt.UTC).date()
    ledger_due_today(engine, today)
    key, _ = create_key(engine, name="test viewer", role="viewer")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    load_policy(policy)
    env = {
        **os.environ,
        "LATEPAY_MODEL_DIR": str(tmp_path / "models"),
        "LATEPAY_SMTP_HOST": "127.0.0.1",
        "LATEPAY_SMTP_PORT": str(port),
        "LATEPAY_REMINDER_POLICY": str(policy),
        "LATEPAY_HOLDOUT_SHARE": "0",
        "LATEPAY_SCHEDULE_REMINDERS_SECONDS": JOB_SECONDS,
        "LATEPAY_SCHEDULE_SEGMENTS_SECONDS": JOB_SECONDS,
        "LATEPAY_SCHEDULE_DRIFT_SECONDS": "0",
        "LATEPAY_SCHEDULE_RETRAIN_SECONDS": "0",
    }
    with contextlib.ExitStack() as servers:
        base_urls = []
        for name in ("one", "two"):
            folder = tmp_path / name
            folder.mkdir()
            base_urls.append(servers.enter_context(running_server(database_url, folder, env)))
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            runs = [job_runs(base_url, key) for base_url in base_urls]
            reminder_runs = sum(
                n for counts in runs for (job, _), n in counts.items() if job == "reminders"
            )
            segment_runs = sum(counts.get(("segments", "ok"), 0) for counts in runs)
            if reminder_runs >= 6 and segment_runs >= 2:
                break
            assert time.monotonic() < deadline, f"too few job runs in time: {runs}"
            time.sleep(0.5)
        failures = [counts for counts in runs if any(o == "failed" for _, o in counts)]
        assert failures == [], [(tmp_path / n / "server.log").read_text() for n in ("one", "two")]

        customer = httpx.get(
            f"{base_urls[0]}/v1/customers/C2",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
    assert customer.status_code == 200, customer.text
    history = customer.json()["segment_history"]
    assert [(row["segment"], row["strategy"]) for row in history] == [("critical", "escalate")]
    assert history[0]["as_of"] == f"{today:%Y-%m-%d}"
    assert history[0]["mean_p_late"] == pytest.approx(0.8)

    assert sorted(message["To"] for message in inbox.messages) == [
        "ap@c1.example",
        "ap@c2.example",
    ]
    with engine.connect() as connection:
        segments = connection.execute(
            sa.select(
                CustomerSegmentChange.customer_id,
                CustomerSegmentChange.segment,
                CustomerSegmentChange.strategy,
            ).order_by(CustomerSegmentChange.customer_id)
        ).all()
        sent = connection.scalar(
            sa.select(sa.func.count()).where(
                Reminder.kind == "statement", Reminder.status == "sent"
            )
        )
    assert [tuple(row) for row in segments] == [
        ("C1", "reliable", "automate"),
        ("C2", "critical", "escalate"),
    ]
    assert sent == 2
    engine.dispose()
