"""The holdout: a deterministic control group without proactive reminders, and its report."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import Engine
from tests.actions.conftest import RecordingMailer, add_customer, add_invoice, reminder_rows

from latepay.actions.holdout import holdout_report, in_control
from latepay.actions.policies import load_policy
from latepay.actions.reminders import plan_reminders, send_reminders
from latepay.config import Settings
from latepay.db.tables import Invoice

MONDAY = dt.date(2024, 6, 10)
SETTINGS = Settings(holdout_share=0.5, holdout_salt="test-salt")


def days(n: int) -> dt.date:
    return MONDAY + dt.timedelta(days=n)


def test_the_control_group_is_deterministic_and_of_the_configured_share() -> None:
    ids = [f"INV-{n}" for n in range(20_000)]
    control = [i for i in ids if in_control(i, share=0.1, salt="a")]
    assert control == [i for i in ids if in_control(i, share=0.1, salt="a")]
    assert 0.09 < len(control) / len(ids) < 0.11
    # A larger share keeps the smaller group inside it; another salt draws another group.
    assert set(control) <= {i for i in ids if in_control(i, share=0.2, salt="a")}
    other = {i for i in ids if in_control(i, share=0.1, salt="b")}
    assert len(other & set(control)) < len(control) / 2
    assert not any(in_control(i, share=0.0, salt="a") for i in ids[:1000])


def _pick(count: int, *, control: bool) -> list[str]:
    ids = (f"H{n}" for n in range(1000))
    chosen = [
        i
        for i in ids
        if in_control(i, share=SETTINGS.holdout_share, salt=SETTINGS.holdout_salt) == control
    ]
    return chosen[:count]


def _run(engine: Engine, day: dt.date, mailer: RecordingMailer):
    planned = plan_reminders(engine, day, load_policy(), settings=SETTINGS)
    return send_reminders(engine, planned, mailer)


def _settle(engine: Engine, invoice_id: str, day: dt.date) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.update(Invoice).where(Invoice.invoice_id == invoice_id).values(settled_date=day)
        )


def test_control_invoices_get_no_proactive_reminder_but_do_get_overdue_notices(
    sqlite_engine: Engine,
) -> None:
    (treated,) = _pick(1, control=False)
    (control,) = _pick(1, control=True)
    for invoice_id in (treated, control):
        add_customer(sqlite_engine, f"C-{invoice_id}")
        add_invoice(sqlite_engine, invoice_id, f"C-{invoice_id}", due=days(3))  # watch: -3, +7
    mailer = RecordingMailer()
    report = _run(sqlite_engine, MONDAY, mailer)
    assert report.counts() == {"control": 1, "sent": 1}
    assert report.control_invoices == 1
    assert [m["To"] for m in mailer.messages] == [f"ap@c-{treated.lower()}.example"]
    rows = {row["idempotency_key"]: row for row in reminder_rows(sqlite_engine)}
    held = rows[f"step:{control}:-3"]
    assert held["status"] == "skipped"
    assert held["last_error"].startswith("holdout")
    assert held["invoice_ids"]["arm"] == "control"
    assert rows[f"step:{treated}:-3"]["invoice_ids"]["arm"] == "treated"
    # The next day the held step is not planned again.
    assert _run(sqlite_engine, days(1), mailer).counts() == {}
    # After the due date the control invoice gets its overdue notice like any other.
    overdue = _run(sqlite_engine, days(10), mailer)
    assert overdue.counts() == {"sent": 2}
    assert len(mailer.messages) == 3


def test_the_report_compares_matured_treated_and_control_invoices(sqlite_engine: Engine) -> None:
    treated = _pick(3, control=False)
    control = _pick(2, control=True)
    add_customer(sqlite_engine, "C1")
    for invoice_id in (*treated[:2], *control):
        add_invoice(sqlite_engine, invoice_id, "C1", due=days(3))
    # Due later: eligible once its -3 step comes, but not matured on the report's day.
    add_invoice(sqlite_engine, treated[2], "C1", due=days(17))
    mailer = RecordingMailer()
    _run(sqlite_engine, MONDAY, mailer)
    _run(sqlite_engine, days(14), mailer)  # treated[2]'s -3 step
    _settle(sqlite_engine, treated[0], days(2))  # on time
    _settle(sqlite_engine, control[0], days(8))  # 5 days late
    _settle(sqlite_engine, control[1], days(13))  # 10 days late
    # treated[1] stays open: 12 days overdue on days(15), a lower bound of its delay.
    summary = {s.arm: s for s in holdout_report(sqlite_engine, as_of=days(15))}
    assert (summary["treated"].eligible, summary["treated"].matured) == (3, 2)
    assert summary["treated"].on_time == 1
    assert summary["treated"].on_time_rate == 0.5
    assert summary["treated"].average_days_late == (0 + 12) / 2
    assert (summary["control"].eligible, summary["control"].matured) == (2, 2)
    assert summary["control"].on_time_rate == 0.0
    assert summary["control"].average_days_late == (5 + 10) / 2
    # Grace days turn control[0]'s 5 days into on time; as of days(13) control[1] is still open.
    early = {s.arm: s for s in holdout_report(sqlite_engine, as_of=days(13), grace_days=5)}
    assert early["control"].on_time == 1
    assert early["control"].average_days_late == (5 + 10) / 2
