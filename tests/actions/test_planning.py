from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from tests.actions.conftest import AS_OF, RecordingMailer, add_invoice, reminder_rows

from latepay.actions.policies import load_policy
from latepay.actions.reminders import plan_reminders, send_reminders, statement_key


def _by_customer(planned, action: str) -> dict[str, list[str]]:
    return {
        p.customer_id: sorted(step.key for step in p.steps) for p in planned if p.action == action
    }


def test_due_steps_are_consolidated_per_customer(ledger: Engine) -> None:
    planned = plan_reminders(ledger, AS_OF, load_policy())
    assert _by_customer(planned, "send") == {
        "C1": ["step:INV1:-3", "step:INV2:+7"],
        "C4": ["step:INV5:-1"],
    }
    # INV2's -3 step was 10 days ago, INV5's -7 step 6 days ago: too old to send.
    assert _by_customer(planned, "skip") == {"C1": ["step:INV2:-3"], "C4": ["step:INV5:-7"]}
    c1 = next(p for p in planned if p.customer_id == "C1" and p.action == "send")
    # The most severe step (firm, +7 days) chooses the template of the whole message.
    assert c1.template == "overdue_notice"
    assert [line.invoice_id for line in c1.lines] == ["INV2", "INV1"]  # by due date
    assert c1.key == statement_key("C1", AS_OF, ["step:INV2:+7", "step:INV1:-3"])
    c4 = next(p for p in planned if p.customer_id == "C4" and p.action == "send")
    assert c4.template == "upcoming_due"
    # C4's open invoice has P(late) 0.5 and no history: at-risk.
    assert c4.steps[0].segment == "at-risk"
    assert [step.arm for step in c4.steps] == ["treated"]


def test_nothing_is_due_before_the_first_step(ledger: Engine) -> None:
    assert plan_reminders(ledger, AS_OF - dt.timedelta(days=30), load_policy()) == []


def test_a_step_is_planned_once_across_days(ledger: Engine) -> None:
    policy = load_policy()
    mailer = RecordingMailer()
    send_reminders(ledger, plan_reminders(ledger, AS_OF, policy), mailer)
    assert len(mailer.messages) == 2
    for later in range(0, 3):
        day = AS_OF + dt.timedelta(days=later)
        assert plan_reminders(ledger, day, policy) == []
    # INV1's +7 step comes 10 days later: a new message with that step only.
    planned = plan_reminders(ledger, AS_OF + dt.timedelta(days=10), policy)
    assert _by_customer(planned, "send") == {"C1": ["step:INV1:+7"]}
    statuses = {row["idempotency_key"]: row["status"] for row in reminder_rows(ledger)}
    assert statuses["step:INV5:-7"] == "skipped"
    assert statuses["step:INV2:+7"] == "sent"


def test_an_outage_skips_old_steps_instead_of_flooding(ledger: Engine) -> None:
    # Nothing ran for 21 days (to Monday 1 July): every step due is too old to send.
    add_invoice(ledger, "INV9", "C1", due=AS_OF + dt.timedelta(days=40))
    planned = plan_reminders(ledger, AS_OF + dt.timedelta(days=21), load_policy())
    assert _by_customer(planned, "send") == {}
    skipped = _by_customer(planned, "skip")
    assert skipped == {
        "C1": ["step:INV1:+7", "step:INV1:-3", "step:INV2:+7", "step:INV2:-3"],
        "C4": ["step:INV5:+10", "step:INV5:+3", "step:INV5:-1", "step:INV5:-7"],
    }
    report = send_reminders(ledger, planned, RecordingMailer())
    assert report.counts() == {"skipped": 2}
    assert {row["status"] for row in reminder_rows(ledger)} == {"skipped"}


def test_dry_run_writes_and_sends_nothing(ledger: Engine) -> None:
    mailer = RecordingMailer()
    planned = plan_reminders(ledger, AS_OF, load_policy())
    report = send_reminders(ledger, planned, mailer, dry_run=True)
    assert report.counts() == {"would_send": 2, "would_skip": 2}
    assert mailer.messages == []
    assert reminder_rows(ledger) == []
