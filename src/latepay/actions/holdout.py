"""The holdout: a random control group that gets no proactive reminder, and what it shows.

Reminders before the due date cost goodwill and mail; whether they make customers pay on time
can only be told against invoices that did not get them. A share of the invoices
(``Settings.holdout_share``, 10% by default) is put in a **control** group: their steps before
the due date are recorded as skipped instead of sent; after the due date they are treated like
any other invoice (no customer is left without an overdue notice).

The group is drawn by hashing the invoice id with a salt (``Settings.holdout_salt``), so an
invoice is in it or not on every run and every machine, without any state; changing the salt
draws a new group. Which invoices were *eligible* (reached a proactive step of their segment's
schedule) is recorded on their step rows in ``reminders`` (``arm``: ``treated`` or ``control``),
since only those can be compared: an invoice whose schedule has no proactive step was never
going to get one.

:func:`holdout_report` compares the two arms on matured invoices (due date plus grace days
before the day of the report): the on-time rate and the average days late. An invoice still open
counts as late by the days it has been overdue so far, a lower bound of its final delay.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.tables import Invoice, Reminder, in_chunks

TREATED = "treated"
CONTROL = "control"
ARMS = (TREATED, CONTROL)


def in_control(invoice_id: str, *, share: float, salt: str) -> bool:
    """Whether ``invoice_id`` belongs to the control group of size ``share`` (0 to 1).

    The first 8 bytes of SHA-256(salt:invoice_id) as a number in [0, 1): uniform over invoice
    ids, so about ``share`` of any set of invoices falls below ``share``.
    """
    digest = hashlib.sha256(f"{salt}:{invoice_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass(frozen=True)
class ArmSummary:
    """One arm's matured invoices: how many, the share paid on time, the mean days late."""

    arm: str
    eligible: int
    matured: int
    on_time: int
    on_time_rate: float | None
    average_days_late: float | None


def eligible_invoices(engine: Engine) -> dict[str, str]:
    """The arm of every invoice that reached a proactive step, from its step rows."""
    arms: dict[str, str] = {}
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(Reminder.invoice_ids).where(Reminder.kind == "step")
        ).scalars()
        for details in rows:
            arm = details.get("arm")
            if arm in ARMS:
                arms[details["invoice_ids"][0]] = arm
    return arms


def holdout_report(engine: Engine, *, as_of: dt.date, grace_days: int = 0) -> list[ArmSummary]:
    """Treated against control: on-time rate and average days late of matured invoices.

    Parameters
    ----------
    engine : Engine
        A migrated latepay database where reminders ran.
    as_of : date
        The day of the report; only settlements before it count.
    grace_days : int
        Days after the due date that still count as on time.

    Returns
    -------
    list of ArmSummary
        Treated first, then control; rates are None for an arm without matured invoices.
    """
    arms = eligible_invoices(engine)
    rows = []
    with engine.connect() as connection:
        for chunk in in_chunks(sorted(arms)):
            rows.extend(
                connection.execute(
                    sa.select(Invoice.invoice_id, Invoice.due_date, Invoice.settled_date).where(
                        Invoice.invoice_id.in_(chunk)
                    )
                ).all()
            )
    frame = pd.DataFrame(rows, columns=["invoice_id", "due_date", "settled_date"])
    frame["arm"] = frame["invoice_id"].map(arms)
    due = pd.to_datetime(frame["due_date"])
    settled = pd.to_datetime(frame["settled_date"])
    day = pd.Timestamp(as_of)
    # Settled on or after the report's day is not known yet: still open as far as it knows.
    paid_by = settled.where(settled < day)
    frame["matured"] = due + pd.Timedelta(days=grace_days) < day
    frame["days_late"] = ((paid_by.fillna(day) - due).dt.days).clip(lower=0)
    frame["on_time"] = paid_by.notna() & ((paid_by - due).dt.days <= grace_days)
    summaries = []
    for arm in ARMS:
        part = frame[frame["arm"] == arm]
        matured = part[part["matured"]]
        summaries.append(
            ArmSummary(
                arm=arm,
                eligible=len(part),
                matured=len(matured),
                on_time=int(matured["on_time"].sum()),
                on_time_rate=float(matured["on_time"].mean()) if len(matured) else None,
                average_days_late=float(matured["days_late"].mean()) if len(matured) else None,
            )
        )
    return summaries


def report_dict(summaries: list[ArmSummary]) -> dict[str, Any]:
    return {summary.arm: asdict(summary) for summary in summaries}
