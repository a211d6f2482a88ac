"""90 simulated days of collections on a generated ledger, with a real SMTP server on loopback.

The ledger is cut at the first simulated day: what happened before is imported and a model is
trained on it; what happens after is replayed day by day. Each day the day's invoices are issued
through the scoring path the API uses (``issue_invoices``), the reminders of the day are planned
and sent (twice, as a rerun would), the day's payments are posted (``record_payments``), and now
and then a collector records a promise to pay or a dispute (``record_outcome``).

At the end: every message arrived once (Message-IDs are derived from idempotency keys, so a
duplicate would repeat one), reminders before and after due dates both arrived, the holdout got
no proactive mail, nothing went out on a quiet day, and the worklist lost each invoice the day
after it was paid.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from tests.actions.conftest import _Inbox, free_port, smtp_mailer

from latepay.actions.holdout import holdout_report, in_control
from latepay.actions.policies import load_policy
from latepay.actions.reminders import plan_reminders, send_reminders
from latepay.actions.worklist import build_worklist
from latepay.config import Settings
from latepay.db import make_engine, upgrade_to_head
from latepay.db.tables import Invoice, Outcome, Reminder
from latepay.features import load_ledger
from latepay.ingest import import_mapping
from latepay.learning.feedback import record_outcome, record_payments
from latepay.models.training import make_model, training_data
from latepay.scoring.batch import score_open_invoices
from latepay.scoring.issuance import canonical_records, issue_invoices
from latepay.synthetic import generate_ledger

pytestmark = pytest.mark.slow

START = dt.date(2024, 3, 1)
DAYS = 90
CUSTOMERS = 100
OUTCOME_EVERY_DAYS = 9
# Planning again right after sending must find nothing; checked every few days to save time.
RERUN_EVERY_DAYS = 3


def _cut_ledger(source: Path, target: Path) -> dict[str, pd.DataFrame]:
    """Write the part of the generated files known before START into ``target``; return the
    invoices and payments that come later."""
    target.mkdir()
    start = pd.Timestamp(START)
    frames = {
        name: pd.read_csv(source / f"{name}.csv", keep_default_na=True)
        for name in (
            "customers",
            "invoices",
            "payments",
            "disputes",
            "interactions",
            "economic_indicators",
        )
    }
    invoices = frames["invoices"]
    issued = pd.to_datetime(invoices["issue_date"])
    payments = frames["payments"]
    paid = pd.to_datetime(payments["paid_date"])
    disputes = frames["disputes"]
    opened = pd.to_datetime(disputes["opened_date"])
    resolved = pd.to_datetime(disputes["resolved_date"])
    past = {
        "customers": frames["customers"],
        "invoices": invoices[issued < start],
        "payments": payments[paid < start],
        "disputes": disputes[opened < start].assign(
            resolved_date=disputes["resolved_date"].where(resolved < start)
        ),
        "interactions": frames["interactions"][
            pd.to_datetime(frames["interactions"]["date"]) < start
        ],
        "economic_indicators": frames["economic_indicators"],
    }
    for name, frame in past.items():
        frame.to_csv(target / f"{name}.csv", index=False)
    (target / "mapping.yaml").write_text((source / "mapping.yaml").read_text())
    return {"invoices": invoices[issued >= start], "payments": payments[paid >= start]}


def _records(invoices: pd.DataFrame) -> list[dict]:
    return canonical_records(
        [
            {
                "invoice_id": row.invoice_id,
                "customer_id": row.customer_id,
                "issue_date": row.issue_date,
                "due_date": row.due_date,
                "amount": row.amount,
                "currency": row.currency,
                "payment_method": row.payment_method,
                "channel": row.channel,
                "features": {"po_number_required": bool(row.po_number_required)},
            }
            for row in invoices.itertuples(index=False)
        ]
    )


def _listed(worklist) -> set[str]:
    return {item.invoice_id for item in worklist.items()}


def _backdate(engine, outcome_id: int, day: dt.date) -> None:
    """Outcomes are stamped with the wall clock; in the simulation they happen on ``day``."""
    moment = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.update(Outcome).where(Outcome.id == outcome_id).values(recorded_at=moment)
        )


def test_ninety_days_of_collections(tmp_path: Path) -> None:
    began = time.monotonic()
    generate_ledger(
        tmp_path / "generated",
        customers=CUSTOMERS,
        seed=11,
        start=dt.date(2023, 3, 1),
        months=15,
    )
    future = _cut_ledger(tmp_path / "generated", tmp_path / "past")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'latepay.db'}", model_dir=tmp_path / "models"
    )
    engine = make_engine(settings.database_url)
    upgrade_to_head(engine)
    assert import_mapping(engine, tmp_path / "past" / "mapping.yaml").ok
    ledger = load_ledger(engine)
    # A small gbm: the simulation tests the actions, not the model's quality.
    model = make_model("gbm", n_estimators=60).fit(training_data(ledger, cutoff=ledger.as_of))
    model.version_ = "gbm-simulation"
    # Invoices open at the start are scored once, as a nightly `latepay score --open` would.
    score_open_invoices(
        engine,
        model,
        ledger,
        as_of=pd.Timestamp(START),
        tier_cutoffs=settings.risk_tier_cutoffs,
        output=tmp_path / "open.csv",
    )
    policy = load_policy()
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailer = smtp_mailer(port)
    issue_day = pd.to_datetime(future["invoices"]["issue_date"]).dt.date
    pay_day = pd.to_datetime(future["payments"]["paid_date"]).dt.date
    left_the_worklist = left_the_top = reordered = promises = disputes = broken_seen = 0
    previous_top: list[str] = []
    before = build_worklist(engine, as_of=START, settings=settings)
    try:
        for offset in range(DAYS):
            day = START + dt.timedelta(days=offset)
            todays = future["invoices"][issue_day == day]
            if len(todays):
                (issued,) = issue_invoices(
                    engine, model, [_records(todays)], tier_cutoffs=settings.risk_tier_cutoffs
                )
                assert all(issued.created)
            now = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
            planned = plan_reminders(engine, day, policy, settings=settings)
            send_reminders(engine, planned, mailer, now=now)
            if offset % RERUN_EVERY_DAYS == 0:
                rerun = plan_reminders(engine, day, policy, settings=settings)
                assert send_reminders(engine, rerun, mailer, now=now).counts() == {}

            payments = future["payments"][pay_day == day]
            if len(payments):
                record_payments(engine, payments.to_dict("records"))
            after = build_worklist(engine, as_of=day + dt.timedelta(days=1), settings=settings)
            settled = {p["invoice_id"] for p in payments.to_dict("records")}
            fully_paid = {i for i in settled & _listed(before) if i not in _open_ids(engine, day)}
            assert not fully_paid & _listed(after)
            left_the_worklist += len(fully_paid)
            left_the_top += len(fully_paid & {item.invoice_id for item in before.to_work[:10]})
            top = [item.invoice_id for item in after.to_work[:10]]
            reordered += top != previous_top
            previous_top = top
            broken_seen += sum(item.broken_promise for item in after.to_work)

            if offset % OUTCOME_EVERY_DAYS == 4 and len(after.to_work) >= 2:
                promised, disputed = after.to_work[0], after.to_work[1]
                promise = record_outcome(
                    engine,
                    {
                        "invoice_id": promised.invoice_id,
                        "kind": "promise_to_pay",
                        "promised_date": day + dt.timedelta(days=3),
                    },
                    recorded_by="collector",
                    today=day,
                )
                _backdate(engine, promise["id"], day)
                dispute = record_outcome(
                    engine,
                    {"invoice_id": disputed.invoice_id, "kind": "dispute_opened", "date": day},
                    recorded_by="collector",
                    today=day,
                )
                _backdate(engine, dispute["id"], day)
                promises += 1
                disputes += 1
                listed = build_worklist(engine, as_of=day + dt.timedelta(days=1), settings=settings)
                assert promised.invoice_id in {i.invoice_id for i in listed.promised}
                assert disputed.invoice_id in {i.invoice_id for i in listed.disputed}
                after = listed
            # Tomorrow morning's list, before tomorrow's payments (an invoice issued today
            # joins the list of the day after its issue, so tomorrow's issuance changes nothing).
            before = after
    finally:
        controller.stop()

    with engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(sa.select(Reminder)).mappings()]
    statements = [r for r in rows if r["kind"] == "statement"]
    steps = [r for r in rows if r["kind"] == "step"]
    sent_steps = [r for r in steps if r["status"] == "sent"]
    ids = Counter(message["Message-ID"] for message in inbox.messages)
    duplicates = sum(count - 1 for count in ids.values())
    pre_due = [r for r in sent_steps if r["invoice_ids"]["days"] <= 0]
    post_due = [r for r in sent_steps if r["invoice_ids"]["days"] > 0]
    control = [r for r in steps if r["invoice_ids"].get("arm") == "control"]
    summary = {s.arm: s for s in holdout_report(engine, as_of=START + dt.timedelta(days=DAYS))}
    print(
        f"\n90-day simulation: {len(inbox.messages)} mails received, {len(ids)} distinct "
        f"Message-IDs, {duplicates} duplicates; {len(pre_due)} pre-due and {len(post_due)} "
        f"post-due reminder steps sent; {len(control)} proactive steps withheld (control); "
        f"{promises} promises, {disputes} disputes, {broken_seen} broken-promise listings; "
        f"{left_the_worklist} paid invoices left the worklist ({left_the_top} from its top "
        f"10); top 10 changed on {reordered} "
        f"of {DAYS} days; holdout {summary}; {time.monotonic() - began:.0f} s"
    )

    assert duplicates == 0
    assert len(inbox.messages) == len([r for r in statements if r["status"] == "sent"])
    assert {r["status"] for r in statements} == {"sent"}
    assert pre_due and post_due
    assert {message["Subject"].split(":")[0] for message in inbox.messages} >= {
        "Friendly reminder",
        "Payment overdue",
    }
    # The holdout: withheld steps exist, and no proactive step of a control invoice was sent.
    assert control and {r["status"] for r in control} == {"skipped"}
    assert not [
        r
        for r in pre_due
        if in_control(
            r["invoice_ids"]["invoice_ids"][0],
            share=settings.holdout_share,
            salt=settings.holdout_salt,
        )
    ]
    # Quiet days: nothing went out on a weekend.
    assert all(r["scheduled_for"].weekday() < 5 for r in statements)
    assert left_the_worklist > 0
    assert left_the_top > 0
    assert reordered > 0
    assert broken_seen > 0


def _open_ids(engine, day: dt.date) -> set[str]:
    """Invoices still open after ``day``'s payments (a partial payment leaves one open)."""
    with engine.connect() as connection:
        return set(
            connection.scalars(
                sa.select(Invoice.invoice_id).where(
                    sa.or_(Invoice.settled_date.is_(None), Invoice.settled_date > day)
                )
            )
        )
