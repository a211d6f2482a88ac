"""Sending over a real SMTP server on 127.0.0.1 (aiosmtpd): what arrives, and how often."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.actions.conftest import (
    AS_OF,
    add_customer,
    add_invoice,
    free_port,
    reminder_rows,
    smtp_mailer,
)

from latepay.actions import reminders
from latepay.actions.mail import TemplateError, message_id
from latepay.actions.policies import load_policy
from latepay.actions.reminders import (
    CLAIM_LEASE,
    plan_reminders,
    retry_delay,
    send_reminders,
)
from latepay.db.tables import Invoice

NOW = dt.datetime(2024, 6, 10, 8, 0, tzinfo=dt.UTC)
C1 = "ap@c1.example"
C4 = "ap@c4.example"


def _run(engine: Engine, port: int, *, now: dt.datetime = NOW, day: dt.date = AS_OF):
    return send_reminders(
        engine, plan_reminders(engine, day, load_policy()), smtp_mailer(port), now=now
    )


def test_a_rerun_on_the_same_day_sends_nothing_twice(ledger: Engine, smtp_server) -> None:
    inbox, port = smtp_server
    first = _run(ledger, port)
    assert first.counts() == {"sent": 2, "skipped": 2}
    second = _run(ledger, port, now=NOW + dt.timedelta(hours=1))
    assert second.counts() == {}
    assert len(inbox.to(C1)) == 1
    assert len(inbox.to(C4)) == 1
    assert len(inbox.messages) == 2
    rows = {row["idempotency_key"]: row for row in reminder_rows(ledger)}
    statement = next(
        row for row in rows.values() if row["kind"] == "statement" and row["customer_id"] == "C1"
    )
    assert statement["status"] == "sent"
    assert statement["sent_at"] is not None
    assert statement["invoice_ids"]["invoice_ids"] == ["INV1", "INV2"]
    assert rows["step:INV1:-3"]["status"] == "sent"
    assert inbox.to(C1)[0]["Message-ID"] == message_id(
        statement["idempotency_key"], "ar@seller.example"
    )


def test_the_message_lists_the_invoices_in_text_and_html(ledger: Engine, smtp_server) -> None:
    inbox, port = smtp_server
    _run(ledger, port)
    (message,) = inbox.to(C1)
    assert message["Subject"] == "Payment overdue: 2 open invoices"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "INV1" in part
        assert "INV2" in part
        assert "1,250.50 EUR" in part
        assert "150,000 JPY" in part  # no minor units in yen
        assert "2024-06-03" in part
    assert "INV2: 150,000 JPY, due 2024-06-03 (7 days overdue)" in text
    assert "<td>INV2</td>" in html


def test_a_friendly_reminder_says_nothing_about_risk(ledger: Engine, smtp_server) -> None:
    inbox, port = smtp_server
    _run(ledger, port)
    (message,) = inbox.to(C4)  # INV5, high risk, one day before its due date
    assert message["Subject"].startswith("Friendly reminder")
    for part in (message.get_body(("plain",)), message.get_body(("html",))):
        content = part.get_content().lower()
        assert "INV5".lower() in content
        for word in ("risk", "late", "overdue", "collections"):
            assert word not in content


def test_two_runs_at_once_send_each_message_once(ledger: Engine, smtp_server) -> None:
    inbox, port = smtp_server
    policy = load_policy()
    start = threading.Barrier(2)
    reports = []

    def run() -> None:
        planned = plan_reminders(ledger, AS_OF, policy)
        start.wait()
        reports.append(send_reminders(ledger, planned, smtp_mailer(port), now=NOW))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(reports) == 2
    assert sum(report.counts().get("sent", 0) for report in reports) == 2
    assert len(inbox.to(C1)) == 1
    assert len(inbox.to(C4)) == 1


def test_a_server_that_is_down_leaves_the_reminder_pending_until_retried(
    ledger: Engine, smtp_server
) -> None:
    inbox, port = smtp_server
    planned = plan_reminders(ledger, AS_OF, load_policy())
    down = send_reminders(ledger, planned, smtp_mailer(free_port()), now=NOW)
    assert down.counts() == {"pending": 2, "skipped": 2}
    statements = [row for row in reminder_rows(ledger) if row["kind"] == "statement"]
    assert {row["status"] for row in statements} == {"pending"}
    assert all("ConnectionRefusedError" in row["last_error"] for row in statements)
    assert all(row["attempts"] == 1 and row["sent_at"] is None for row in statements)

    # Within the backoff: nothing is retried, and the steps are not planned again.
    early = _run(ledger, port, now=NOW + retry_delay(1) - dt.timedelta(seconds=1))
    assert early.counts() == {}
    assert inbox.messages == []

    later = _run(ledger, port, now=NOW + retry_delay(1))
    assert later.counts() == {"sent": 2}
    again = _run(ledger, port, now=NOW + dt.timedelta(days=1), day=AS_OF + dt.timedelta(days=1))
    assert again.counts() == {}
    assert len(inbox.to(C1)) == 1
    assert len(inbox.to(C4)) == 1
    statements = [row for row in reminder_rows(ledger) if row["kind"] == "statement"]
    assert {(row["status"], row["attempts"]) for row in statements} == {("sent", 2)}


def test_a_template_that_fails_leaves_the_reminder_pending(
    sqlite_engine: Engine, smtp_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp_server
    add_customer(sqlite_engine, "C1")
    add_invoice(sqlite_engine, "INV1", "C1", due=AS_OF + dt.timedelta(days=3))

    def broken(**_kwargs):
        raise TemplateError("reminder template 'upcoming_due' failed to render: UndefinedError")

    monkeypatch.setattr(reminders, "render_reminder", broken)
    report = _run(sqlite_engine, port)
    assert report.counts() == {"pending": 1}
    assert "failed to render" in report.results[0].error
    assert inbox.messages == []
    monkeypatch.undo()
    assert _run(sqlite_engine, port, now=NOW + retry_delay(1)).counts() == {"sent": 1}
    assert len(inbox.messages) == 1


def test_a_run_that_crashed_mid_send_is_taken_over_after_the_lease(
    sqlite_engine: Engine, smtp_server
) -> None:
    inbox, port = smtp_server
    add_customer(sqlite_engine, "C1")
    add_invoice(sqlite_engine, "INV1", "C1", due=AS_OF + dt.timedelta(days=3))

    class Crash(BaseException):
        pass

    class CrashingMailer:
        mail_from = "ar@seller.example"

        def send(self, message) -> None:
            raise Crash

    planned = plan_reminders(sqlite_engine, AS_OF, load_policy())
    with pytest.raises(Crash):
        send_reminders(sqlite_engine, planned, CrashingMailer(), now=NOW)
    assert {row["status"] for row in reminder_rows(sqlite_engine)} == {"sending"}

    assert _run(sqlite_engine, port, now=NOW + CLAIM_LEASE / 2).counts() == {}
    taken_over = _run(sqlite_engine, port, now=NOW + CLAIM_LEASE)
    assert taken_over.counts() == {"sent": 1}
    assert len(inbox.messages) == 1
    assert {row["status"] for row in reminder_rows(sqlite_engine)} == {"sent"}


def test_a_retry_drops_invoices_settled_meanwhile(sqlite_engine: Engine, smtp_server) -> None:
    inbox, port = smtp_server
    add_customer(sqlite_engine, "C1")
    add_invoice(sqlite_engine, "INV1", "C1", due=AS_OF + dt.timedelta(days=3))
    planned = plan_reminders(sqlite_engine, AS_OF, load_policy())
    send_reminders(sqlite_engine, planned, smtp_mailer(free_port()), now=NOW)
    with sqlite_engine.begin() as connection:
        connection.execute(sa.update(Invoice).values(settled_date=AS_OF))
    report = _run(sqlite_engine, port, now=NOW + retry_delay(1))
    assert report.counts() == {"cancelled": 1}
    assert inbox.messages == []
