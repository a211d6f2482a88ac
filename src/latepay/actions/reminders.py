"""Reminders that go out exactly once: plan what is due on a day, claim it, send it, record it.

Planning
--------
:func:`plan_reminders` looks at the invoices open on ``as_of`` (issued by then, not settled by
then, credit notes aside). Each invoice follows the schedule of its customer's risk segment
(:mod:`latepay.actions.segments`, from the latest predictions as of that day and the customer's
history; ``watch`` when neither exists) in the :class:`ReminderPolicy`. A step's day is
``due_date + days``, moved to the next day that is not quiet (quiet weekdays and dates of the
policy); on a quiet day nothing at all is planned. A step is *due* when its day has come and no
row records it yet. A due step missed by more than ``max_step_age_days`` (a long outage, or the
first run on an old ledger) is recorded as ``skipped`` rather than sent late, so that customers
are not flooded; when several steps of one invoice are due, only the latest is sent and the
others are skipped as superseded. Customers excluded from outreach (their
``excluded_from_outreach`` column) or without an e-mail address get nothing (and nothing is
recorded, so a step still in its window goes out once an address is added).

All the steps due for one customer go into ONE consolidated message listing those invoices,
with the template and tone of its most severe step (highest escalation level, then firm before
friendly, then the most days). A customer who already got its segment's
``max_contacts_per_week`` messages in the last seven days (this day included) gets nothing
today: its steps stay due and go out once the week has room (or are skipped as too old).

The holdout (:mod:`latepay.actions.holdout`): an invoice in the control group never gets a step
before its due date; those steps are recorded as skipped (status ``skipped``, reason
``holdout``) and every proactive step row carries its invoice's ``arm``.

Idempotency keys
----------------
Two kinds of rows in ``reminders`` carry a unique ``idempotency_key``:

* a **step** row per invoice and step, ``step:{invoice_id}:{days:+d}``. Its uniqueness is what
  makes a step go out at most once *across days and runs*: once claimed (or skipped) it is never
  planned again.
* a **statement** row per message, ``mail:{customer_id}:{as_of}:{hash}``, where ``hash`` is a
  digest of the sorted step keys it carries. Two runs that planned the same message compute the
  same key; the Message-ID is derived from it, so a receiving system sees retries of one message
  under one id. A later message of the same day with *other* steps gets another key.

Sending
-------
:func:`send_reminders` claims a message by inserting its statement row and its step rows in one
transaction, with status ``sending``. If any of those keys exists (another run got there first,
at the same moment or earlier) the insert fails as a whole and the loser skips the message, so
two concurrent runs never send the same step. Only after the SMTP server accepted the message
are the rows marked ``sent`` with ``sent_at``. When rendering or sending fails, the rows go back
to ``pending`` with ``attempts`` and ``last_error``; the next run retries the statement once its
backoff (:func:`retry_delay`) has passed, and gives up (``failed``) after :data:`MAX_ATTEMPTS`.
A retry re-reads the invoices and drops those settled meanwhile (all settled: ``cancelled``).
A retry is the stored message again, not merged with steps that became due since: a customer
whose message failed yesterday may get that one and today's on the same day.

A run that crashes between claim and the server's answer leaves rows in ``sending``; after
:data:`CLAIM_LEASE` a later run takes them as pending again. If the crash came after the
server accepted the message, it is sent a second time: at that point at-least-once is
unavoidable (SMTP has no transaction we could commit together with our row). The repeated
Message-ID lets mail clients and ticket systems fold the two.

Retry bookkeeping (when the next attempt may start) is kept in the statement row's JSON details
(``next_attempt_at``) because the table has no column for it yet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from latepay.actions.holdout import CONTROL as CONTROL_ARM
from latepay.actions.holdout import TREATED as TREATED_ARM
from latepay.actions.holdout import in_control
from latepay.actions.mail import InvoiceLine, Mailer, TemplateError, render_reminder
from latepay.actions.policies import ReminderPolicy
from latepay.actions.segments import customer_segments
from latepay.actions.worklist import settled_history
from latepay.config import Settings, get_settings
from latepay.db.tables import Customer, Invoice, Reminder, in_chunks, utcnow
from latepay.scoring.records import latest_predictions

logger = logging.getLogger(__name__)

# Statuses of a reminder row.
SENDING = "sending"
SENT = "sent"
PENDING = "pending"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"
# Result status of withheld holdout steps (their rows are 'skipped').
CONTROL = "control"

STEP = "step"
STATEMENT = "statement"
CHANNEL = "email"
# A customer neither scored nor with history is watched until it shows what it is.
DEFAULT_SEGMENT = "watch"
HOLDOUT_REASON = "holdout: control group, no reminder before the due date"

# 5 min, 10 min, 20 min, ... at most 6 h; ten attempts span about a day and a half.
MAX_ATTEMPTS = 10
FIRST_RETRY = dt.timedelta(minutes=5)
MAX_RETRY = dt.timedelta(hours=6)
# A row still 'sending' after this belonged to a run that stopped mid-send.
CLAIM_LEASE = dt.timedelta(minutes=15)
MAX_ERROR_LENGTH = 500

OnProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class PlannedStep:
    """One step of an invoice's schedule that is due (or skipped) on the planning day."""

    key: str
    invoice_id: str
    segment: str
    days: int
    template: str
    tone: str
    scheduled_for: dt.date
    escalation: int = 0
    # treated or control for a step before the due date (see latepay.actions.holdout).
    arm: str | None = None
    skip_reason: str | None = None

    def describe(self) -> str:
        return f"{self.invoice_id} {self.days:+d}d ({self.segment})"


@dataclass(frozen=True)
class PlannedReminder:
    """One consolidated message to a customer, or the steps of a customer to record as skipped.

    ``action`` is ``send`` for a message, ``skip`` for steps recorded without a message,
    ``control`` for proactive steps withheld because their invoices are in the holdout.
    ``retry`` holds (row id, status, attempts) when this is a retry of a stored statement.
    """

    key: str
    action: Literal["send", "skip", "control"]
    customer_id: str
    customer_name: str | None
    email: str | None
    as_of: dt.date
    steps: tuple[PlannedStep, ...]
    lines: tuple[InvoiceLine, ...] = ()
    retry: tuple[int, str, int] | None = None

    @property
    def lead_step(self) -> PlannedStep:
        """The most severe step: it chooses the template and the tone."""
        return max(self.steps, key=lambda step: (step.escalation, step.tone == "firm", step.days))

    @property
    def template(self) -> str:
        return self.lead_step.template

    @property
    def invoice_ids(self) -> tuple[str, ...]:
        return tuple(sorted({step.invoice_id for step in self.steps}))


@dataclass(frozen=True)
class ReminderResult:
    """What happened to one planned reminder in a run."""

    key: str
    customer_id: str
    invoice_ids: tuple[str, ...]
    steps: tuple[str, ...]
    template: str | None
    status: str
    error: str | None = None


@dataclass
class RunReport:
    """The results of one :func:`send_reminders` run."""

    dry_run: bool
    results: list[ReminderResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for result in self.results:
            counts[result.status] += 1
        return dict(sorted(counts.items()))

    @property
    def control_invoices(self) -> int:
        """Invoices whose proactive reminder this run withheld for the holdout."""
        return sum(len(r.invoice_ids) for r in self.results if r.status in (CONTROL, "would_hold"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "control_invoices": self.control_invoices,
            "reminders": [asdict(result) for result in self.results],
        }


def retry_delay(attempts: int) -> dt.timedelta:
    """How long to wait after ``attempts`` failed attempts: doubling from 5 min, at most 6 h."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


def step_key(invoice_id: str, days: int) -> str:
    return f"step:{invoice_id}:{days:+d}"


def statement_key(customer_id: str, as_of: dt.date, step_keys: Iterable[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(step_keys)).encode()).hexdigest()[:12]
    return f"mail:{customer_id}:{as_of:%Y-%m-%d}:{digest}"


# ---------------------------------------------------------------------------------- planning


def plan_reminders(
    engine: Engine,
    as_of: dt.date | pd.Timestamp,
    policy: ReminderPolicy,
    *,
    settings: Settings | None = None,
) -> list[PlannedReminder]:
    """The reminders due on ``as_of``: one message per customer, plus steps to skip.

    Parameters
    ----------
    engine : Engine
        A migrated latepay database.
    as_of : date
        The day of the run.
    policy : ReminderPolicy
        Schedules per segment, see :func:`~latepay.actions.policies.load_policy`.
    settings : Settings, optional
        Segment cut-offs, grace days and the holdout (share and salt); the process settings
        by default.

    Returns
    -------
    list of PlannedReminder
        ``send`` entries (one per customer with something due), then ``skip`` entries, then
        ``control`` entries, each sorted by customer id. Empty on a quiet day.
    """
    settings = settings or get_settings()
    day = pd.Timestamp(as_of).date()
    if policy.is_quiet(day):
        return []
    with engine.connect() as connection:
        invoices = _open_invoices(connection, day)
        latest = latest_predictions(connection, [row.invoice_id for row in invoices], day)
        segments = _segments(connection, invoices, latest, day, settings)
        candidates = {
            row.invoice_id: _steps_reached(
                row, segments.get(row.customer_id) or DEFAULT_SEGMENT, policy, day, settings
            )
            for row in invoices
        }
        taken = _existing_keys(
            connection, [step.key for steps in candidates.values() for step in steps]
        )
        contacted = _contacts_this_week(connection, day)
    to_send: dict[str, list[PlannedStep]] = defaultdict(list)
    to_skip: dict[str, list[PlannedStep]] = defaultdict(list)
    to_hold: dict[str, list[PlannedStep]] = defaultdict(list)
    lines: dict[str, list[InvoiceLine]] = defaultdict(list)
    customers = {}
    for row in invoices:
        steps = [step for step in candidates[row.invoice_id] if step.key not in taken]
        if not steps:
            continue
        customers[row.customer_id] = row
        held = [step for step in steps if step.arm == CONTROL_ARM]
        to_hold[row.customer_id].extend(replace(step, skip_reason=HOLDOUT_REASON) for step in held)
        steps = [step for step in steps if step.arm != CONTROL_ARM]
        fresh = [s for s in steps if (day - s.scheduled_for).days <= policy.max_step_age_days]
        latest_step = fresh[-1] if fresh else None
        cap = policy.segment(steps[0].segment).max_contacts_per_week if steps else 0
        capped = contacted.get(row.customer_id, 0) >= cap
        for step in steps:
            if step is latest_step:
                if capped:
                    continue  # stays due: it goes out once the week has room
                to_send[row.customer_id].append(step)
                lines[row.customer_id].append(
                    InvoiceLine(row.invoice_id, row.amount, row.currency, row.due_date)
                )
            elif step in fresh:
                if capped:
                    continue
                to_skip[row.customer_id].append(
                    replace(step, skip_reason=f"superseded by step {latest_step.days:+d}d")
                )
            else:
                late = (day - step.scheduled_for).days
                to_skip[row.customer_id].append(
                    replace(
                        step,
                        skip_reason=f"{late} days past its day, more than max_step_age_days="
                        f"{policy.max_step_age_days}",
                    )
                )
    planned = []
    for action, groups in (("send", to_send), ("skip", to_skip), ("control", to_hold)):
        for customer_id in sorted(groups):
            steps = tuple(groups[customer_id])
            if not steps:
                continue
            keys = [step.key for step in steps]
            customer = customers[customer_id]
            planned.append(
                PlannedReminder(
                    key=statement_key(customer_id, day, keys)
                    if action == "send"
                    else f"{action}:{customer_id}:{day:%Y-%m-%d}",
                    action=action,
                    customer_id=customer_id,
                    customer_name=customer.name,
                    email=customer.email,
                    as_of=day,
                    steps=steps,
                    lines=tuple(lines[customer_id]),
                )
            )
    return planned


def _open_invoices(connection: sa.Connection, day: dt.date) -> list[Any]:
    """Invoices open on ``day`` of customers that may be contacted and have an address."""
    query = (
        sa.select(
            Invoice.invoice_id,
            Invoice.customer_id,
            Invoice.due_date,
            Invoice.amount,
            Invoice.currency,
            Customer.name,
            Customer.email,
        )
        .join(Customer, Customer.customer_id == Invoice.customer_id)
        .where(
            Invoice.issue_date <= day,
            sa.or_(Invoice.settled_date.is_(None), Invoice.settled_date > day),
            Invoice.is_credit_note.is_(False),
            Invoice.amount > 0,
            sa.or_(Customer.excluded_from_outreach.is_(None), ~Customer.excluded_from_outreach),
            Customer.email.is_not(None),
            Customer.email != "",
        )
        .order_by(Invoice.customer_id, Invoice.due_date, Invoice.invoice_id)
    )
    return list(connection.execute(query))


def _segments(
    connection: sa.Connection,
    invoices: list[Any],
    latest: dict[str, dict[str, Any]],
    day: dt.date,
    settings: Settings,
) -> dict[str, str | None]:
    """Each customer's risk segment on ``day`` (the worklist's rule, over these open invoices)."""
    frame = pd.DataFrame(
        {
            "customer_id": [row.customer_id for row in invoices],
            "amount": [float(row.amount) for row in invoices],
            "p_late": [latest.get(row.invoice_id, {}).get("p_late") for row in invoices],
        },
        columns=["customer_id", "amount", "p_late"],
    )
    frame["p_late"] = frame["p_late"].astype(float)
    history = settled_history(
        connection, sorted(set(frame["customer_id"])), day, grace_days=settings.grace_days
    )
    segments = customer_segments(frame, history, cutoffs=settings.segment_cutoffs)
    # A customer without a segment (never scored, no history) gets None, not NaN.
    return {
        customer_id: segment if isinstance(segment, str) else None
        for customer_id, segment in zip(segments["customer_id"], segments["segment"], strict=True)
    }


def _steps_reached(
    row: Any, segment: str, policy: ReminderPolicy, day: dt.date, settings: Settings
) -> list[PlannedStep]:
    """Steps of the invoice's schedule whose (quiet-day shifted) day has come, oldest first."""
    control = in_control(row.invoice_id, share=settings.holdout_share, salt=settings.holdout_salt)
    steps = []
    for step in policy.steps(segment):
        scheduled = policy.send_day(row.due_date + dt.timedelta(days=step.days))
        if scheduled <= day:
            proactive = step.days <= 0
            steps.append(
                PlannedStep(
                    key=step_key(row.invoice_id, step.days),
                    invoice_id=row.invoice_id,
                    segment=segment,
                    days=step.days,
                    template=step.template,
                    tone=step.tone,
                    scheduled_for=scheduled,
                    escalation=step.escalation,
                    arm=(CONTROL_ARM if control else TREATED_ARM) if proactive else None,
                )
            )
    return steps


def _contacts_this_week(connection: sa.Connection, day: dt.date) -> dict[str, int]:
    """Messages per customer sent or under way in the seven days up to ``day``."""
    rows = connection.execute(
        sa.select(Reminder.customer_id, sa.func.count())
        .where(
            Reminder.kind == STATEMENT,
            Reminder.scheduled_for > day - dt.timedelta(days=7),
            Reminder.scheduled_for <= day,
            Reminder.status.in_((SENT, SENDING, PENDING)),
        )
        .group_by(Reminder.customer_id)
    )
    return dict(rows.all())


def _existing_keys(connection: sa.Connection, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in in_chunks(keys):
        found.update(
            connection.scalars(
                sa.select(Reminder.idempotency_key).where(Reminder.idempotency_key.in_(chunk))
            )
        )
    return found


# ----------------------------------------------------------------------------------- sending


def send_reminders(
    engine: Engine,
    planned: list[PlannedReminder],
    mailer: Mailer,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    on_progress: OnProgress | None = None,
) -> RunReport:
    """Send the planned reminders, and retry stored ones whose backoff has passed.

    Parameters
    ----------
    engine : Engine
        A migrated latepay database.
    planned : list of PlannedReminder
        From :func:`plan_reminders`.
    mailer : Mailer
        Hands messages to the mail server (:class:`~latepay.actions.mail.SmtpMailer`).
    dry_run : bool
        Write nothing and send nothing; report what would be sent (``would_send``, ...).
    now : datetime, optional
        The clock for backoff and claim leases (timezone-aware); the current time by default.
    on_progress : callable, optional
        Called as ``on_progress(done, total)``.

    Returns
    -------
    RunReport
    """
    now = now or utcnow()
    retries = _due_retries(engine, now)
    work = [*retries, *planned]
    report = RunReport(dry_run=dry_run)
    if on_progress:
        on_progress(0, len(work))
    for done, reminder in enumerate(work, start=1):
        if dry_run:
            status = {"skip": "would_skip", "control": "would_hold"}.get(
                reminder.action, "would_send"
            )
            if reminder.retry:
                status = "would_retry"
            report.results.append(_result(reminder, status))
        elif reminder.action in ("skip", "control"):
            report.results.append(_record_skipped(engine, reminder))
        else:
            report.results.append(_claim_and_send(engine, reminder, mailer, now))
        if on_progress:
            on_progress(done, len(work))
    return report


def _result(reminder: PlannedReminder, status: str, error: str | None = None) -> ReminderResult:
    return ReminderResult(
        key=reminder.key,
        customer_id=reminder.customer_id,
        invoice_ids=reminder.invoice_ids,
        steps=tuple(step.describe() for step in reminder.steps),
        template=reminder.template if reminder.action == "send" else None,
        status=status,
        error=error,
    )


def _step_row(reminder: PlannedReminder, step: PlannedStep, status: str) -> dict[str, Any]:
    return {
        "idempotency_key": step.key,
        "customer_id": reminder.customer_id,
        "invoice_ids": {
            "invoice_ids": [step.invoice_id],
            "days": step.days,
            "segment": step.segment,
            "escalation": step.escalation,
            "arm": step.arm,
            "statement": reminder.key if status != SKIPPED else None,
        },
        "kind": STEP,
        "channel": CHANNEL,
        "template": step.template,
        "scheduled_for": step.scheduled_for,
        "status": status,
        "attempts": 0 if status == SKIPPED else 1,
        "last_error": step.skip_reason,
    }


def _details(reminder: PlannedReminder, next_attempt_at: dt.datetime) -> dict[str, Any]:
    return {
        "invoice_ids": list(reminder.invoice_ids),
        "steps": [
            {**asdict(step), "scheduled_for": f"{step.scheduled_for:%Y-%m-%d}"}
            for step in reminder.steps
        ],
        "as_of": f"{reminder.as_of:%Y-%m-%d}",
        "next_attempt_at": next_attempt_at.isoformat(),
    }


def _record_skipped(engine: Engine, reminder: PlannedReminder) -> ReminderResult:
    """Record steps as skipped; a step another run recorded meanwhile is left as it is."""
    rows = [_step_row(reminder, step, SKIPPED) for step in reminder.steps]
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(Reminder), rows)
    except IntegrityError:
        for row in rows:
            try:
                with engine.begin() as connection:
                    connection.execute(sa.insert(Reminder), [row])
            except IntegrityError:
                pass
    status = CONTROL if reminder.action == "control" else SKIPPED
    return _result(reminder, status, "; ".join(s.skip_reason or "" for s in reminder.steps))


def _claim(engine: Engine, reminder: PlannedReminder, now: dt.datetime) -> int | None:
    """Take the reminder for this run; its attempt number, or None when another run has it."""
    lease = _details(reminder, now + CLAIM_LEASE)
    if reminder.retry:
        row_id, status, attempts = reminder.retry
        with engine.begin() as connection:
            claimed = connection.execute(
                sa.update(Reminder)
                .where(
                    Reminder.id == row_id,
                    Reminder.status == status,
                    Reminder.attempts == attempts,
                )
                .values(status=SENDING, attempts=attempts + 1, invoice_ids=lease)
            ).rowcount
            if claimed != 1:
                return None
            _update_steps(connection, reminder, status=SENDING, attempts=attempts + 1)
        return attempts + 1
    statement = {
        "idempotency_key": reminder.key,
        "customer_id": reminder.customer_id,
        "invoice_ids": lease,
        "kind": STATEMENT,
        "channel": CHANNEL,
        "template": reminder.template,
        "scheduled_for": reminder.as_of,
        "status": SENDING,
        "attempts": 1,
    }
    steps = [_step_row(reminder, step, SENDING) for step in reminder.steps]
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(Reminder), [statement, *steps])
    except IntegrityError:
        return None
    return 1


def _claim_and_send(
    engine: Engine, reminder: PlannedReminder, mailer: Mailer, now: dt.datetime
) -> ReminderResult:
    attempt = _claim(engine, reminder, now)
    if attempt is None:
        return _result(reminder, "claimed_elsewhere")
    if not reminder.lines:
        _finish(
            engine,
            reminder,
            status=CANCELLED,
            error="nothing left to send: the invoices were settled, or the customer "
            "was excluded from outreach or lost its e-mail address",
        )
        return _result(reminder, CANCELLED)
    try:
        message = render_reminder(
            idempotency_key=reminder.key,
            template=reminder.template,
            to=reminder.email or "",
            customer_name=reminder.customer_name,
            lines=list(reminder.lines),
            as_of=reminder.as_of,
            mail_from=mailer.mail_from,
        )
        mailer.send(message)
    except (TemplateError, OSError, ValueError) as error:  # smtplib errors are OSErrors
        reason = f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]
        status = FAILED if attempt >= MAX_ATTEMPTS else PENDING
        _finish(
            engine,
            reminder,
            status=status,
            error=reason,
            details=_details(reminder, now + retry_delay(attempt)),
        )
        logger.warning("reminder %s not sent (attempt %d): %s", reminder.key, attempt, reason)
        return _result(reminder, status, reason)
    _finish(engine, reminder, status=SENT, sent_at=utcnow())
    return _result(reminder, SENT)


def _finish(
    engine: Engine,
    reminder: PlannedReminder,
    *,
    status: str,
    error: str | None = None,
    sent_at: dt.datetime | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "last_error": error, "sent_at": sent_at}
    with engine.begin() as connection:
        statement_values = dict(values, invoice_ids=details) if details else values
        connection.execute(
            sa.update(Reminder)
            .where(Reminder.idempotency_key == reminder.key)
            .values(**statement_values)
        )
        _update_steps(connection, reminder, **values)


def _update_steps(connection: sa.Connection, reminder: PlannedReminder, **values: Any) -> None:
    keys = [step.key for step in reminder.steps]
    connection.execute(
        sa.update(Reminder).where(Reminder.idempotency_key.in_(keys)).values(**values)
    )


def _due_retries(engine: Engine, now: dt.datetime) -> list[PlannedReminder]:
    """Stored statements that are pending (backoff passed) or stuck in 'sending' (lease over)."""
    with engine.connect() as connection:
        rows = list(
            connection.execute(
                sa.select(Reminder)
                .where(Reminder.kind == STATEMENT, Reminder.status.in_((PENDING, SENDING)))
                .order_by(Reminder.id)
            ).mappings()
        )
        due = [
            row
            for row in rows
            if dt.datetime.fromisoformat(row["invoice_ids"]["next_attempt_at"]) <= now
        ]
        retries = []
        for row in due:
            details = row["invoice_ids"]
            day = dt.date.fromisoformat(details["as_of"])
            steps = tuple(
                PlannedStep(
                    **{**step, "scheduled_for": dt.date.fromisoformat(step["scheduled_for"])}
                )
                for step in details["steps"]
            )
            customer = connection.execute(
                sa.select(Customer.name, Customer.email, Customer.excluded_from_outreach).where(
                    Customer.customer_id == row["customer_id"]
                )
            ).one()
            lines = connection.execute(
                sa.select(Invoice.invoice_id, Invoice.amount, Invoice.currency, Invoice.due_date)
                .where(
                    Invoice.invoice_id.in_(details["invoice_ids"]),
                    Invoice.settled_date.is_(None),
                )
                .order_by(Invoice.due_date, Invoice.invoice_id)
            )
            retries.append(
                PlannedReminder(
                    key=row["idempotency_key"],
                    action="send",
                    customer_id=row["customer_id"],
                    customer_name=customer.name,
                    email=customer.email,
                    as_of=day,
                    steps=steps,
                    lines=tuple(InvoiceLine(*line) for line in lines)
                    if customer.email and not customer.excluded_from_outreach
                    else (),
                    retry=(row["id"], row["status"], row["attempts"]),
                )
            )
    return retries
