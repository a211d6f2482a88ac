"""The customer page: one customer's invoices, payments, scores, reminders, disputes and
promises on one timeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.dashboard.charts import LATE, ON_TIME, ORANGE, PAID, Figure, figure
from latepay.db.tables import (
    Dispute,
    Invoice,
    Outcome,
    Payment,
    Prediction,
    Reminder,
    customer_record,
)

# The newest invoices drawn on the timeline; older ones stay in the history figures.
TIMELINE_INVOICES = 60


@dataclass(frozen=True)
class CustomerTimeline:
    customer: dict
    invoices: pd.DataFrame
    payments: pd.DataFrame
    scores: pd.DataFrame
    reminders: pd.DataFrame
    disputes: pd.DataFrame
    outcomes: pd.DataFrame


def customer_timeline(engine: Engine, customer_id: str) -> CustomerTimeline:
    """Everything recorded about ``customer_id``.

    Raises
    ------
    NotFoundError
        For an unknown customer.
    """
    with engine.connect() as connection:
        customer = customer_record(connection, customer_id)
        invoices = pd.read_sql(
            sa.select(
                Invoice.invoice_id,
                Invoice.issue_date,
                Invoice.due_date,
                Invoice.settled_date,
                Invoice.amount,
                Invoice.currency,
            )
            .where(Invoice.customer_id == customer_id, Invoice.is_credit_note.is_(False))
            .order_by(Invoice.issue_date.desc(), Invoice.invoice_id)
            .limit(TIMELINE_INVOICES),
            connection,
        )
        ids = invoices["invoice_id"].tolist()
        payments = pd.read_sql(
            sa.select(Payment.invoice_id, Payment.paid_date, Payment.amount)
            .where(Payment.invoice_id.in_(ids))
            .order_by(Payment.paid_date),
            connection,
        )
        scores = pd.read_sql(
            sa.select(
                Prediction.invoice_id, Prediction.as_of, Prediction.p_late, Prediction.risk_tier
            )
            .where(Prediction.invoice_id.in_(ids))
            .order_by(Prediction.as_of, Prediction.id),
            connection,
        )
        reminders = pd.read_sql(
            sa.select(
                Reminder.scheduled_for,
                Reminder.kind,
                Reminder.channel,
                Reminder.status,
                Reminder.sent_at,
            )
            .where(Reminder.customer_id == customer_id)
            .order_by(Reminder.scheduled_for),
            connection,
        )
        disputes = pd.read_sql(
            sa.select(
                Dispute.dispute_id,
                Dispute.invoice_id,
                Dispute.opened_date,
                Dispute.resolved_date,
                Dispute.reason,
            )
            .where(Dispute.customer_id == customer_id)
            .order_by(Dispute.opened_date),
            connection,
        )
        outcomes = pd.read_sql(
            sa.select(
                Outcome.invoice_id,
                Outcome.kind,
                Outcome.promised_date,
                Outcome.contact_result,
                Outcome.note,
                Outcome.recorded_at,
            )
            .where(Outcome.invoice_id.in_(ids))
            .order_by(Outcome.recorded_at),
            connection,
        )
    return CustomerTimeline(
        customer=dict(customer),
        invoices=invoices,
        payments=payments,
        scores=scores,
        reminders=reminders,
        disputes=disputes,
        outcomes=outcomes,
    )


def timeline_figure(timeline: CustomerTimeline, today: dt.date) -> Figure:
    """Invoices as bars from issue to settlement (or today), with the other events as marks."""
    invoices = timeline.invoices.sort_values("issue_date")
    issue = pd.to_datetime(invoices["issue_date"])
    end = pd.to_datetime(invoices["settled_date"]).fillna(pd.Timestamp(today))
    due = pd.to_datetime(invoices["due_date"])
    payments = timeline.payments
    traces = [
        {
            "type": "bar",
            "name": "Invoice, issue to settlement",
            "orientation": "h",
            "y": invoices["invoice_id"],
            "base": issue,
            # A date axis measures bar lengths in milliseconds.
            "x": (end - issue).dt.days.clip(lower=1) * 86_400_000,
            "marker": {"color": [LATE if late else ON_TIME for late in end > due]},
            "customdata": invoices[["amount", "due_date"]].astype(str).to_numpy(),
            "hovertemplate": "%{y}: %{customdata[0]}, due %{customdata[1]}<extra></extra>",
        },
        _marks("Due date", invoices["invoice_id"], due, "line-ns-open", "#333333", size=12),
        _marks("Payment", payments["invoice_id"], payments["paid_date"], "circle", PAID),
        _marks(
            "Dispute opened",
            timeline.disputes["invoice_id"],
            timeline.disputes["opened_date"],
            "x",
            "#9467bd",
        ),
    ]
    promises = timeline.outcomes[timeline.outcomes["kind"] == "promise_to_pay"]
    traces.append(
        _marks("Promise to pay", promises["invoice_id"], promises["promised_date"], "star", ORANGE)
    )
    height = max(320, min(900, 22 * len(invoices) + 140))
    return figure(
        traces,
        "Invoices (red: settled after the due date)",
        height=height,
        barmode="overlay",
        xaxis={"type": "date"},
        yaxis={
            "type": "category",
            "autorange": "reversed",
            "showticklabels": len(invoices) <= 30,
        },
    )


def scores_figure(timeline: CustomerTimeline) -> Figure:
    """Every score of the customer's invoices over time, with reminders sent."""
    scores = timeline.scores
    sent = pd.to_datetime(timeline.reminders["sent_at"]).dropna()
    reminder_lines = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": moment,
            "x1": moment,
            "y0": 0,
            "y1": 1,
            "line": {"color": "#888888", "dash": "dot", "width": 1},
        }
        for moment in sent
    ]
    points = {
        "type": "scatter",
        "mode": "markers",
        "name": "P(late) of an invoice",
        "x": pd.to_datetime(scores["as_of"]),
        "y": scores["p_late"],
        "text": scores["invoice_id"],
        "hovertemplate": "%{text}: %{y:.2f} on %{x|%Y-%m-%d}<extra></extra>",
        "marker": {"color": LATE, "size": 7},
    }
    return figure(
        [points],
        "Scores over time (dotted: reminders sent)",
        height=300,
        shapes=reminder_lines,
        xaxis={"type": "date"},
        yaxis={"range": [0, 1], "title": {"text": "P(late)"}},
    )


def _marks(name: str, rows: pd.Series, when: pd.Series, symbol: str, color: str, size=9) -> dict:
    known = rows.notna() & when.notna()
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "y": rows[known],
        "x": pd.to_datetime(when[known]),
        "marker": {"symbol": symbol, "size": size, "color": color},
    }
