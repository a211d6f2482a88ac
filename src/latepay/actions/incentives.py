"""Early-payment discounts for the customers they would move (issue 5, item 6).

A discount costs money on every invoice where it is taken, also from customers who would have
paid on time anyway; it pays off only where it turns a late payment into an on-time one and the
money saved by that (the cost of capital over the delay avoided) beats the discount.

Who is offered one
------------------
An open invoice, not yet due on ``as_of``, whose latest prediction (as of that day) puts it at
risk tier ``high`` or ``critical`` (predicted late), of a customer who has **responded**
before: after a reminder it was sent (a ``sent`` statement in ``reminders``, on the day of its
run) or a collector's contact or promise to pay (``outcomes``), the invoice concerned was paid
within ``Settings.response_days``. Each such touch before ``as_of`` whose window has closed (or
that was answered) is one trial; the customer's **response rate** is answered trials over
trials, and it needs at least one answered trial.

The expected gain
-----------------
For an invoice of amount ``A`` with P(late) ``p`` and expected days late ``E`` (the model's
``p x days late when late``), a customer response rate ``r``, a discount rate ``d``
(``Settings.discount_rate``) and a yearly cost of capital ``k`` (``Settings.cost_of_capital``)::

    P(take)          = r                          customers take the offer as they answer reminders
    lift             = r x p                      on-time probability gained: takers who would
                                                  have paid late
    days_saved       = E / p                      the delay of a late payment, avoided by a taker
    gain             = lift x A x k / 365 x days_saved  -  d x A x P(take)

which simplifies to ``r x A x (k x E / 365 - d)``: an offer is proposed when the delay it is
expected to avoid, priced at the cost of capital, is worth more than the discount, i.e. when
``E > 365 x d / k`` (36.5 days with 1% and 10% a year). Only offers with a positive gain are
listed, largest gain first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from latepay.config import Settings
from latepay.db.tables import Invoice, Outcome, Reminder, as_utc, in_chunks
from latepay.scoring.records import latest_predictions

PREDICTED_LATE_TIERS = ("high", "critical")
RESPONSE_OUTCOMES = ("contact", "promise_to_pay")
DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class IncentiveOffer:
    """A proposed early-payment discount on one invoice and what it is expected to gain."""

    invoice_id: str
    customer_id: str
    amount: float
    currency: str | None
    due_date: dt.date
    p_late: float
    expected_days_late: float
    response_rate: float
    trials: int
    lift: float
    days_saved: float
    discount: float
    expected_gain: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def expected_gain(
    *,
    amount: float,
    p_late: float,
    expected_days_late: float,
    p_take: float,
    discount_rate: float,
    cost_of_capital: float,
) -> tuple[float, float, float]:
    """``(lift, days_saved, gain)`` of offering the discount, by the module's formula."""
    lift = p_take * p_late
    days_saved = expected_days_late / p_late if p_late > 0 else 0.0
    gain = (
        lift * amount * cost_of_capital / DAYS_PER_YEAR * days_saved
        - discount_rate * amount * p_take
    )
    return lift, days_saved, gain


def response_rates(
    connection: Connection, customer_ids: list[str], as_of: dt.date, *, response_days: int
) -> pd.DataFrame:
    """Per customer: decided trials (reminders sent, contacts) and how many were answered.

    Returns
    -------
    DataFrame
        Indexed by customer_id with ``trials`` and ``answered``; customers without a decided
        trial are missing.
    """
    touches = _touches(connection, customer_ids, as_of)
    if touches.empty:
        return pd.DataFrame({"trials": [], "answered": []}, index=pd.Index([], name="customer_id"))
    day = pd.Timestamp(as_of)
    touched = pd.to_datetime(touches["day"])
    settled = pd.to_datetime(touches["settled_date"])
    settled = settled.where(settled < day)  # a payment on or after as_of is not known yet
    window_end = touched + pd.Timedelta(days=response_days)
    answered = settled.notna() & (settled >= touched) & (settled <= window_end)
    decided = answered | (window_end < day)
    touches = touches.assign(answered=answered.astype(int))[decided.to_numpy()]
    grouped = touches.groupby("customer_id")["answered"]
    return pd.DataFrame({"trials": grouped.size(), "answered": grouped.sum()})


def incentive_offers(engine: Engine, *, as_of: dt.date, settings: Settings) -> list[IncentiveOffer]:
    """Early-payment discounts worth offering on ``as_of``, largest expected gain first.

    Parameters
    ----------
    engine : Engine
        A migrated latepay database with scored invoices.
    as_of : date
        The day of the proposal: predictions, payments and touches known by then.
    settings : Settings
        ``discount_rate``, ``cost_of_capital`` and ``response_days``.

    Returns
    -------
    list of IncentiveOffer
        Only offers with a positive expected gain (see the module's formula).
    """
    with engine.connect() as connection:
        invoices = connection.execute(
            sa.select(
                Invoice.invoice_id,
                Invoice.customer_id,
                Invoice.amount,
                Invoice.currency,
                Invoice.due_date,
            )
            .where(
                Invoice.issue_date <= as_of,
                Invoice.due_date >= as_of,
                sa.or_(Invoice.settled_date.is_(None), Invoice.settled_date >= as_of),
                Invoice.is_credit_note.is_(False),
                Invoice.amount > 0,
            )
            .order_by(Invoice.invoice_id)
        ).all()
        predictions = latest_predictions(connection, [row.invoice_id for row in invoices], as_of)
        at_risk = [
            row
            for row in invoices
            if predictions.get(row.invoice_id, {}).get("risk_tier") in PREDICTED_LATE_TIERS
        ]
        rates = response_rates(
            connection,
            sorted({row.customer_id for row in at_risk}),
            as_of,
            response_days=settings.response_days,
        )
    offers = []
    for row in at_risk:
        if row.customer_id not in rates.index or rates.at[row.customer_id, "answered"] == 0:
            continue
        trials = int(rates.at[row.customer_id, "trials"])
        rate = float(rates.at[row.customer_id, "answered"]) / trials
        prediction = predictions[row.invoice_id]
        lift, days_saved, gain = expected_gain(
            amount=float(row.amount),
            p_late=float(prediction["p_late"]),
            expected_days_late=float(prediction["expected_days_late"]),
            p_take=rate,
            discount_rate=settings.discount_rate,
            cost_of_capital=settings.cost_of_capital,
        )
        if gain <= 0:
            continue
        offers.append(
            IncentiveOffer(
                invoice_id=row.invoice_id,
                customer_id=row.customer_id,
                amount=float(row.amount),
                currency=row.currency,
                due_date=row.due_date,
                p_late=float(prediction["p_late"]),
                expected_days_late=float(prediction["expected_days_late"]),
                response_rate=rate,
                trials=trials,
                lift=lift,
                days_saved=days_saved,
                discount=settings.discount_rate * float(row.amount),
                expected_gain=gain,
            )
        )
    return sorted(offers, key=lambda offer: (-offer.expected_gain, offer.invoice_id))


def _touches(connection: Connection, customer_ids: list[str], as_of: dt.date) -> pd.DataFrame:
    """Reminders sent and collector contacts before ``as_of``: customer, invoice, day."""
    rows: list[tuple[str, str, dt.date]] = []
    for chunk in in_chunks(customer_ids):
        statements = connection.execute(
            sa.select(Reminder.customer_id, Reminder.invoice_ids, Reminder.scheduled_for).where(
                Reminder.customer_id.in_(chunk),
                Reminder.kind == "statement",
                Reminder.status == "sent",
                Reminder.scheduled_for < as_of,
            )
        )
        for customer_id, details, day in statements:
            rows.extend((customer_id, invoice_id, day) for invoice_id in details["invoice_ids"])
        contacts = connection.execute(
            sa.select(Invoice.customer_id, Outcome.invoice_id, Outcome.recorded_at)
            .join(Invoice, Invoice.invoice_id == Outcome.invoice_id)
            .where(Invoice.customer_id.in_(chunk), Outcome.kind.in_(RESPONSE_OUTCOMES))
        )
        for customer_id, invoice_id, recorded_at in contacts:
            day = as_utc(recorded_at).date()
            if day < as_of:
                rows.append((customer_id, invoice_id, day))
    touches = pd.DataFrame(rows, columns=["customer_id", "invoice_id", "day"])
    settled = {}
    for chunk in in_chunks(sorted(set(touches["invoice_id"]))):
        settled.update(
            connection.execute(
                sa.select(Invoice.invoice_id, Invoice.settled_date).where(
                    Invoice.invoice_id.in_(chunk)
                )
            ).all()
        )
    touches["settled_date"] = touches["invoice_id"].map(settled)
    return touches
