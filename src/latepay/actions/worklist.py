"""The collector's worklist: open invoices ranked by what working them is worth (issue 5, item 2).

:func:`build_worklist` takes the invoices open on ``as_of`` (issued before it, not settled
before it, credit notes aside) with their latest prediction made as of that day or earlier,
and sorts them into three sections:

* ``to_work``, ranked by priority (see :func:`priority`);
* ``promised``: under an unbroken promise to pay (the invoice's latest ``promise_to_pay``
  outcome recorded by ``as_of`` names a date on or after ``as_of``);
* ``disputed``: with a dispute opened by ``as_of`` and not resolved by then (a disputed
  invoice is listed as disputed even under a promise: the dispute has to be settled first).

A promise whose date has passed while the invoice is still open is *broken*: the invoice goes
back to ``to_work`` flagged ``broken_promise``, its priority multiplied by
:data:`BROKEN_PROMISE_BOOST`, and its action is a call for payment today.

Open invoices never scored (as of ``as_of``) have no P(late) to rank them by: they are left
out of the sections and counted (``unscored``, ``unscored_amount``); run ``latepay score
--open`` to bring them in.

The next action comes from the risk tier (:func:`latepay.actions.recommend.recommended_action`);
its date is today once the invoice is past due, or for a critical invoice; before the due date
it is the next pre-due reminder day of the customer segment's schedule in the reminder policy,
or the due date when the schedule has none left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from latepay.actions.policies import ReminderPolicy, load_policy
from latepay.actions.recommend import Action, recommended_action
from latepay.actions.segments import customer_segments
from latepay.config import Settings
from latepay.db.frames import read_frame
from latepay.db.sqldates import days_between
from latepay.db.tables import (
    Customer,
    Dispute,
    Invoice,
    Outcome,
    Prediction,
    as_utc,
    in_chunks,
    utcnow,
)
from latepay.errors import InputError
from latepay.scoring.records import latest_predictions

TO_WORK = "to_work"
PROMISED = "promised"
DISPUTED = "disputed"

# Days over which expected delay doubles an invoice's weight (a month late costs a month).
DELAY_SCALE_DAYS = 30.0
# A broken promise says more than any score: the customer said when and did not pay.
BROKEN_PROMISE_BOOST = 1.5

BROKEN_PROMISE_ACTION = Action(
    "call_broken_promise",
    "The promised payment date has passed without payment: call today for payment and escalate.",
)
AWAIT_PROMISE_ACTION = Action(
    "check_promise", "Check on the promised date that the payment has arrived."
)
RESOLVE_DISPUTE_ACTION = Action(
    "resolve_dispute", "Resolve the dispute with the customer before asking for payment."
)


@dataclass(frozen=True)
class WorkItem:
    """One open invoice on the worklist; ``days_past_due`` is negative before the due date."""

    section: str
    invoice_id: str
    customer_id: str
    customer_name: str | None
    amount: float
    currency: str | None
    due_date: dt.date
    days_past_due: int
    p_late: float
    expected_days_late: float
    risk_tier: str
    expected_late_amount: float
    priority: float
    reasons: tuple[str, ...]
    action: str
    action_text: str
    action_date: dt.date
    segment: str | None = None
    strategy: str | None = None
    rank: int | None = None
    collector: str | None = None
    broken_promise: bool = False
    promised_date: dt.date | None = None
    dispute_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Shallow: asdict deep-copies every value, which a 100k-invoice worklist notices.
        return {**vars(self), "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Worklist:
    """The worklist of one day.

    ``to_work`` is ranked and cut to the requested limit; ``to_work_total`` counts it before
    the cut. ``collector_loads`` is each collector's expected late amount over all sections.
    """

    as_of: dt.date
    to_work: list[WorkItem]
    promised: list[WorkItem]
    disputed: list[WorkItem]
    open_invoices: int
    to_work_total: int
    unscored: int
    unscored_amount: float
    collector_loads: dict[str, float] = field(default_factory=dict)
    segments: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def items(self) -> list[WorkItem]:
        return [*self.to_work, *self.promised, *self.disputed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "open_invoices": self.open_invoices,
            "to_work_total": self.to_work_total,
            "unscored": self.unscored,
            "unscored_amount": round(self.unscored_amount, 2),
            "collector_loads": {k: round(v, 2) for k, v in self.collector_loads.items()},
            "to_work": [item.to_dict() for item in self.to_work],
            "promised": [item.to_dict() for item in self.promised],
            "disputed": [item.to_dict() for item in self.disputed],
        }


def priority(amount: float, p_late: float, expected_days_late: float) -> float:
    """``amount x P(late) x (1 + expected_days_late / 30)``: the expected late amount, weighted
    by how long it is expected to stay out.

    The expected late amount alone treats an invoice paid two days late like one paid three
    months late; but the cost of late money (interest, the risk it is never paid, the work to
    collect it) grows with the delay. The weight adds one expected late amount per month of
    expected delay, so among equal expected late amounts the long delays come first, while a
    large amount still outranks a small one with a long delay.
    """
    return amount * p_late * (1.0 + max(expected_days_late, 0.0) / DELAY_SCALE_DAYS)


def default_as_of(engine: Engine) -> dt.date:
    """The day of the newest scoring run (the ``as_of`` of the newest prediction); today when
    nothing was scored yet. ``latepay score --open`` scores as of the ledger's day."""
    with engine.connect() as connection:
        newest = connection.scalar(sa.select(sa.func.max(Prediction.as_of)))
    if newest is None:
        return utcnow().date()
    return pd.Timestamp(newest).date()


def build_worklist(
    engine: Engine,
    *,
    as_of: dt.date,
    settings: Settings,
    collectors: Sequence[str] | None = None,
    limit: int | None = None,
    policy: ReminderPolicy | None = None,
) -> Worklist:
    """The worklist of ``as_of``: ranked invoices to work, promised and disputed ones apart.

    Parameters
    ----------
    engine : Engine
        A migrated latepay database with scored invoices.
    as_of : date
        The day of the list; only what was known by the end of that day counts.
    settings : Settings
        Grace days, segment cut-offs and the reminder policy's path.
    collectors : list of str, optional
        Names to assign the invoices to, customer by customer, balancing each collector's
        expected late amount (see :func:`assign_collectors`).
    limit : int, optional
        Keep the first ``limit`` invoices of ``to_work`` (all sections are assigned first).
    policy : ReminderPolicy, optional
        Overrides the policy of ``settings`` (reminder days before the due date).

    Returns
    -------
    Worklist

    Raises
    ------
    InputError
        For a ``limit`` below 1 or collector names that are empty or repeated.
    """
    if limit is not None and limit < 1:
        raise InputError(f"limit must be 1 or more, got {limit}")
    collectors = _check_collectors(collectors)
    policy = policy or load_policy(settings.reminder_policy)
    with engine.connect() as connection:
        invoices = _open_invoices(connection, as_of)
        ids = invoices["invoice_id"].tolist()
        predictions = latest_predictions(connection, ids, as_of)
        promises = _latest_promises(connection, ids, as_of)
        disputes = _open_disputes(connection, ids, as_of)
        history = settled_history(
            connection,
            sorted(set(invoices["customer_id"])),
            as_of,
            grace_days=settings.grace_days,
        )

    invoices["p_late"] = invoices["invoice_id"].map(
        {invoice_id: row["p_late"] for invoice_id, row in predictions.items()}
    )
    segments = customer_segments(invoices, history, cutoffs=settings.segment_cutoffs)
    by_customer = segments.set_index("customer_id")[["segment", "strategy"]].to_dict("index")
    scored = invoices["p_late"].notna()
    sections: dict[str, list[WorkItem]] = {TO_WORK: [], PROMISED: [], DISPUTED: []}
    for row in invoices[scored].itertuples(index=False):
        item = _item(
            row,
            predictions[row.invoice_id],
            as_of=as_of,
            policy=policy,
            promised_date=promises.get(row.invoice_id),
            dispute_id=disputes.get(row.invoice_id),
            segment=by_customer.get(row.customer_id, {}),
        )
        sections[item.section].append(item)

    ranked = sorted(sections[TO_WORK], key=lambda item: (-item.priority, item.invoice_id))
    ranked = [replace(item, rank=rank) for rank, item in enumerate(ranked, start=1)]
    promised = sorted(sections[PROMISED], key=lambda item: (item.promised_date, item.invoice_id))
    disputed = sorted(sections[DISPUTED], key=lambda item: (-item.priority, item.invoice_id))
    loads: dict[str, float] = {}
    if collectors:
        assigned, loads = assign_collectors([*ranked, *promised, *disputed], collectors)
        ranked, promised, disputed = (
            [replace(item, collector=assigned[item.customer_id]) for item in items]
            for items in (ranked, promised, disputed)
        )
    return Worklist(
        as_of=as_of,
        to_work=ranked[:limit] if limit is not None else ranked,
        promised=promised,
        disputed=disputed,
        open_invoices=len(invoices),
        to_work_total=len(ranked),
        unscored=int((~scored).sum()),
        unscored_amount=float(invoices.loc[~scored, "amount"].sum()),
        collector_loads=loads,
        segments=segments,
    )


def assign_collectors(
    items: Iterable[WorkItem], collectors: Sequence[str]
) -> tuple[dict[str, str], dict[str, float]]:
    """Assign customers to collectors so their expected late amounts are balanced.

    All invoices of a customer go to one collector. Customers are taken largest expected late
    amount first, each to the collector with the least so far (the first named on a tie): the
    greedy "longest processing time" rule, within 4/3 of the best balance.

    Returns
    -------
    (dict, dict)
        The collector of each customer, and each collector's total expected late amount.
    """
    per_customer: dict[str, float] = {}
    for item in items:
        per_customer[item.customer_id] = (
            per_customer.get(item.customer_id, 0.0) + item.expected_late_amount
        )
    loads = dict.fromkeys(collectors, 0.0)
    assigned = {}
    for customer_id, amount in sorted(per_customer.items(), key=lambda kv: (-kv[1], kv[0])):
        collector = min(collectors, key=lambda name: loads[name])
        assigned[customer_id] = collector
        loads[collector] += amount
    return assigned, loads


def _check_collectors(collectors: Sequence[str] | None) -> list[str] | None:
    if collectors is None:
        return None
    names = [name.strip() for name in collectors]
    if not names or any(not name for name in names):
        raise InputError(f"collectors must be non-empty names like 'ana,ben', got {collectors!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"collectors must be distinct; repeated: {', '.join(repeated)}")
    return names


def _item(
    row: Any,
    prediction: dict[str, Any],
    *,
    as_of: dt.date,
    policy: ReminderPolicy,
    promised_date: dt.date | None,
    dispute_id: str | None,
    segment: dict[str, Any],
) -> WorkItem:
    amount = float(row.amount)
    p_late = float(prediction["p_late"])
    expected_days_late = float(prediction["expected_days_late"])
    tier = prediction["risk_tier"]
    broken = promised_date is not None and promised_date < as_of and dispute_id is None
    if dispute_id is not None:
        section, action, action_date = DISPUTED, RESOLVE_DISPUTE_ACTION, as_of
    elif promised_date is not None and not broken:
        section, action, action_date = PROMISED, AWAIT_PROMISE_ACTION, promised_date
    elif broken:
        section, action, action_date = TO_WORK, BROKEN_PROMISE_ACTION, as_of
    else:
        overdue = as_of > row.due_date
        section, action = TO_WORK, recommended_action(tier, overdue=overdue)
        action_date = _action_date(
            row.due_date, tier, _policy_segment(segment.get("segment")), as_of, policy
        )
    weight = BROKEN_PROMISE_BOOST if broken else 1.0
    return WorkItem(
        section=section,
        invoice_id=row.invoice_id,
        customer_id=row.customer_id,
        customer_name=row.name,
        amount=amount,
        currency=row.currency,
        due_date=row.due_date,
        days_past_due=(as_of - row.due_date).days,
        p_late=p_late,
        expected_days_late=expected_days_late,
        risk_tier=tier,
        expected_late_amount=amount * p_late,
        priority=priority(amount, p_late, expected_days_late) * weight,
        reasons=tuple(prediction["reasons"]),
        action=action.code,
        action_text=action.text,
        action_date=action_date,
        segment=segment.get("segment"),
        strategy=segment.get("strategy"),
        broken_promise=broken,
        promised_date=promised_date,
        dispute_id=dispute_id,
    )


def _policy_segment(segment: object) -> str:
    """The segment whose reminder schedule applies; ``watch`` for a customer without one."""
    return segment if isinstance(segment, str) else "watch"


def _action_date(
    due: dt.date, tier: str, segment: str, as_of: dt.date, policy: ReminderPolicy
) -> dt.date:
    """Today past the due date or for a critical invoice; else the next pre-due reminder day
    of the customer segment's schedule (moved past quiet days, as reminders are)."""
    if as_of > due or tier == "critical":
        return as_of
    days = [
        policy.send_day(due + dt.timedelta(days=step.days))
        for step in policy.steps(segment)
        if step.days <= 0 and policy.send_day(due + dt.timedelta(days=step.days)) >= as_of
    ]
    return min(days, default=due)


def _open_invoices(connection: Connection, as_of: dt.date) -> pd.DataFrame:
    query = (
        sa.select(
            Invoice.invoice_id,
            Invoice.customer_id,
            Invoice.due_date,
            Invoice.amount,
            Invoice.currency,
            Customer.name,
        )
        .join(Customer, Customer.customer_id == Invoice.customer_id)
        .where(
            Invoice.issue_date < as_of,
            sa.or_(Invoice.settled_date.is_(None), Invoice.settled_date >= as_of),
            Invoice.is_credit_note.is_(False),
        )
        .order_by(Invoice.invoice_id)
    )
    frame = read_frame(connection, query)
    frame["due_date"] = frame["due_date"].dt.date
    frame["amount"] = frame["amount"].astype(float)
    return frame


def _latest_promises(
    connection: Connection, invoice_ids: list[str], as_of: dt.date
) -> dict[str, dt.date]:
    """The promised date of each invoice's latest promise to pay recorded by ``as_of``."""
    latest: dict[str, tuple[tuple, dt.date]] = {}
    for chunk in in_chunks(invoice_ids):
        rows = connection.execute(
            sa.select(
                Outcome.id, Outcome.invoice_id, Outcome.recorded_at, Outcome.promised_date
            ).where(
                Outcome.invoice_id.in_(chunk),
                Outcome.kind == "promise_to_pay",
                Outcome.promised_date.is_not(None),
            )
        )
        for row in rows:
            recorded = as_utc(row.recorded_at)
            if recorded.date() > as_of:
                continue
            rank = (recorded, row.id)
            if row.invoice_id not in latest or rank > latest[row.invoice_id][0]:
                latest[row.invoice_id] = (rank, row.promised_date)
    return {invoice_id: promised for invoice_id, (_, promised) in latest.items()}


def _open_disputes(
    connection: Connection, invoice_ids: list[str], as_of: dt.date
) -> dict[str, str]:
    """The dispute open at the end of ``as_of`` of each disputed invoice."""
    disputes = {}
    for chunk in in_chunks(invoice_ids):
        rows = connection.execute(
            sa.select(Dispute.invoice_id, Dispute.dispute_id)
            .where(
                Dispute.invoice_id.in_(chunk),
                Dispute.opened_date <= as_of,
                sa.or_(Dispute.resolved_date.is_(None), Dispute.resolved_date > as_of),
            )
            .order_by(Dispute.opened_date, Dispute.dispute_id)
        )
        disputes.update(dict(rows.all()))
    return disputes


def settled_late(grace_days: int) -> sa.Case:
    """SQL: 1 for an invoice settled more than ``grace_days`` days after its due date, else 0
    (the label rule), for counting late payments in the database."""
    return sa.case((days_between(Invoice.settled_date, Invoice.due_date) > grace_days, 1), else_=0)


def settled_history(
    connection: Connection, customer_ids: list[str], as_of: dt.date, *, grace_days: int
) -> pd.DataFrame:
    """Per customer: invoices settled before ``as_of`` and how many of them late.

    Counted in the database: a row per customer comes back, not a row per invoice.
    """
    late = settled_late(grace_days)
    frame = pd.concat(
        [
            read_frame(
                connection,
                sa.select(
                    Invoice.customer_id,
                    sa.func.count().label("settled"),
                    sa.func.sum(late).label("paid_late"),
                )
                .where(
                    Invoice.customer_id.in_(chunk),
                    Invoice.settled_date < as_of,
                    Invoice.is_credit_note.is_(False),
                )
                .group_by(Invoice.customer_id),
            )
            for chunk in in_chunks(customer_ids)
        ]
        or [pd.DataFrame(columns=["customer_id", "settled", "paid_late"])],
        ignore_index=True,
    )
    return frame.astype({"customer_id": object, "settled": int, "paid_late": int})
