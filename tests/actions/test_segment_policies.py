"""Reminders honour the segment policy: quiet days, the weekly contact cap, exclusion."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from tests.actions.conftest import RecordingMailer, add_customer, add_invoice, reminder_rows

from latepay.actions.policies import load_policy
from latepay.actions.reminders import plan_reminders, send_reminders
from latepay.config import Settings

# No holdout: every invoice is treated, so each step below is sent.
SETTINGS = Settings(holdout_share=0.0)
MONDAY = dt.date(2024, 6, 10)


def days(n: int) -> dt.date:
    return MONDAY + dt.timedelta(days=n)


def _run(engine: Engine, day: dt.date, policy=None, mailer=None):
    policy = policy or load_policy()
    mailer = mailer or RecordingMailer()
    planned = plan_reminders(engine, day, policy, settings=SETTINGS)
    return send_reminders(engine, planned, mailer), mailer


def _sent_steps(engine: Engine) -> dict[str, dt.date]:
    return {
        row["idempotency_key"]: row["scheduled_for"]
        for row in reminder_rows(engine)
        if row["kind"] == "step" and row["status"] == "sent"
    }


def test_a_step_on_a_quiet_day_goes_out_on_the_next_allowed_day(sqlite_engine: Engine) -> None:
    add_customer(sqlite_engine, "C1")
    # Never scored, no history: watch, whose -3 step falls on Saturday 8 June.
    add_invoice(sqlite_engine, "INV1", "C1", due=days(1))
    policy = load_policy()
    assert plan_reminders(sqlite_engine, days(-2), policy, settings=SETTINGS) == []  # Saturday
    assert plan_reminders(sqlite_engine, days(-1), policy, settings=SETTINGS) == []  # Sunday
    report, mailer = _run(sqlite_engine, MONDAY, policy)
    assert report.counts() == {"sent": 1}
    assert len(mailer.messages) == 1
    assert _sent_steps(sqlite_engine) == {"step:INV1:-3": MONDAY}


def test_a_quiet_date_moves_the_send_and_sends_nothing_that_day(sqlite_engine: Engine) -> None:
    add_customer(sqlite_engine, "C1")
    add_invoice(sqlite_engine, "INV1", "C1", due=days(3))  # -3 step on Monday
    policy = load_policy().model_copy(update={"quiet_dates": frozenset({MONDAY})})
    assert plan_reminders(sqlite_engine, MONDAY, policy, settings=SETTINGS) == []
    report, _ = _run(sqlite_engine, days(1), policy)
    assert report.counts() == {"sent": 1}
    assert _sent_steps(sqlite_engine) == {"step:INV1:-3": days(1)}


def test_the_weekly_contact_cap_defers_a_message_until_the_week_has_room(
    sqlite_engine: Engine,
) -> None:
    add_customer(sqlite_engine, "C1")
    # Three invoices whose -3 steps fall on Monday, Tuesday and Wednesday; watch allows 2 a week.
    for n in range(3):
        add_invoice(sqlite_engine, f"INV{n}", "C1", due=days(3 + n))
    policy = load_policy().model_copy(update={"max_step_age_days": 7})
    mailer = RecordingMailer()
    for day in (days(0), days(1), days(2), days(3), days(4)):
        _run(sqlite_engine, day, policy, mailer)
    # Wednesday to Friday: two messages within the last seven days, so nothing.
    assert len(mailer.messages) == 2
    assert sorted(_sent_steps(sqlite_engine)) == ["step:INV0:-3", "step:INV1:-3"]
    # Monday 17: only Tuesday's message is within the last seven days; the deferred step goes.
    report, _ = _run(sqlite_engine, days(7), policy, mailer)
    assert report.counts() == {"sent": 1}
    assert len(mailer.messages) == 3
    assert "INV2" in mailer.messages[-1].get_body(("plain",)).get_content()


def test_a_customer_excluded_from_outreach_gets_nothing_and_nothing_is_recorded(
    sqlite_engine: Engine,
) -> None:
    add_customer(sqlite_engine, "C1", excluded=True)
    add_invoice(sqlite_engine, "INV1", "C1", due=days(3))
    add_invoice(sqlite_engine, "INV2", "C1", due=days(-7))
    report, mailer = _run(sqlite_engine, MONDAY)
    assert report.counts() == {}
    assert mailer.messages == []
    assert reminder_rows(sqlite_engine) == []


def test_the_most_escalated_step_leads_the_message(sqlite_engine: Engine) -> None:
    add_customer(sqlite_engine, "C1")
    # Two invoices of a watch customer: one at +7 (escalation 1), one at -3 (escalation 0).
    add_invoice(sqlite_engine, "INV1", "C1", due=days(3))
    add_invoice(sqlite_engine, "INV2", "C1", due=days(-7))
    everything = plan_reminders(sqlite_engine, MONDAY, load_policy(), settings=SETTINGS)
    (planned,) = [p for p in everything if p.action == "send"]
    assert planned.lead_step.escalation == 1
    assert planned.template == "overdue_notice"
    rows = {row["idempotency_key"]: row for row in reminder_rows(sqlite_engine)}
    assert rows == {}  # planning writes nothing
    send_reminders(sqlite_engine, everything, RecordingMailer())
    steps = {
        row["idempotency_key"]: row["invoice_ids"]
        for row in reminder_rows(sqlite_engine)
        if row["kind"] == "step"
    }
    assert steps["step:INV2:+7"]["escalation"] == 1
    assert steps["step:INV2:+7"]["arm"] is None  # after the due date: no holdout arm
    assert steps["step:INV1:-3"]["arm"] == "treated"
    assert steps["step:INV1:-3"]["segment"] == "watch"
