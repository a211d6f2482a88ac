"""The risk page: where the expected late money sits, and who is changing.

Open invoices come from the worklist (their latest scores and customer segments, one
definition); breakdowns add the customers' industry and country. Two kinds of outliers are
shown: customers whose recent payments depart most from their own history, and invoices whose
score moved most since issuance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.actions.worklist import build_worklist, settled_late
from latepay.config import Settings
from latepay.dashboard.charts import LATE, NEUTRAL, Figure, figure
from latepay.db.frames import read_frame
from latepay.db.tables import Customer, Invoice, Prediction
from latepay.scoring.score import RISK_TIERS

# Settled invoices within this many days before the page's day are "recent" behaviour.
RECENT_DAYS = 90
# A customer needs this many recent and earlier settled invoices for its change to mean much.
MIN_INVOICES_EACH_SIDE = 3
TIER_COLORS = {"low": "#2ca02c", "medium": "#ffbf00", "high": "#ff7f0e", "critical": "#d62728"}


@dataclass(frozen=True)
class RiskView:
    """What the risk page shows, as of one day."""

    as_of: dt.date
    open_items: pd.DataFrame
    top_customers: pd.DataFrame
    behaviour_changes: pd.DataFrame
    score_moves: pd.DataFrame


def risk_view(engine: Engine, settings: Settings, as_of: dt.date, *, top: int = 15) -> RiskView:
    """The open scored invoices with their customers' attributes, and the outliers."""
    worklist = build_worklist(engine, as_of=as_of, settings=settings)
    items = pd.DataFrame(
        [item.to_dict() for item in worklist.items()],
        columns=[
            "invoice_id",
            "customer_id",
            "customer_name",
            "amount",
            "p_late",
            "risk_tier",
            "expected_late_amount",
            "segment",
        ],
    )
    with engine.connect() as connection:
        customers = read_frame(
            connection, sa.select(Customer.customer_id, Customer.industry, Customer.country)
        )
        settled = settled_counts(
            connection, as_of - dt.timedelta(days=3 * 365), as_of, settings.grace_days
        )
        moves = _score_moves(connection, items["invoice_id"].tolist(), as_of)
    items = items.merge(customers, on="customer_id", how="left")
    for column in ("industry", "country", "segment"):
        items[column] = items[column].fillna("unknown")
    return RiskView(
        as_of=as_of,
        open_items=items,
        top_customers=_top_customers(items, top),
        behaviour_changes=behaviour_changes(settled).head(top),
        score_moves=moves.head(top),
    )


def breakdown(items: pd.DataFrame, by: str) -> pd.DataFrame:
    """Invoices, amount and expected late amount of open invoices by ``by``, largest first."""
    grouped = items.groupby(by, dropna=False)
    table = pd.DataFrame(
        {
            "invoices": grouped.size(),
            "amount": grouped["amount"].sum(),
            "expected_late_amount": grouped["expected_late_amount"].sum(),
        }
    )
    if by == "risk_tier":
        return table.reindex([t for t in RISK_TIERS if t in table.index]).reset_index()
    return table.sort_values("expected_late_amount", ascending=False).reset_index()


def behaviour_changes(settled: pd.DataFrame) -> pd.DataFrame:
    """Customers whose recent late share departs most from their own earlier late share.

    ``settled`` holds, per customer_id and ``recent`` (True for the last :data:`RECENT_DAYS`
    days), the invoices ``settled`` and how many ``late`` (:func:`settled_counts`). The change
    is recent minus earlier late share; customers need :data:`MIN_INVOICES_EACH_SIDE`
    invoices on each side. Sorted by the size of the change, largest first.
    """
    columns = ["customer_id", "recent_invoices", "recent_late_share", "earlier_late_share"]
    if settled.empty:
        return pd.DataFrame(columns=[*columns, "change"])
    frame = settled.assign(share=settled["late"] / settled["settled"])
    is_recent = frame["recent"].astype(bool)
    both = (
        frame[is_recent]
        .set_index("customer_id")
        .join(frame[~is_recent].set_index("customer_id"), how="inner", suffixes=("", "_earlier"))
    )
    both = both[
        (both["settled"] >= MIN_INVOICES_EACH_SIDE)
        & (both["settled_earlier"] >= MIN_INVOICES_EACH_SIDE)
    ]
    table = pd.DataFrame(
        {
            "customer_id": both.index,
            "recent_invoices": both["settled"].astype(int).to_numpy(),
            "recent_late_share": both["share"].to_numpy(),
            "earlier_late_share": both["share_earlier"].to_numpy(),
        }
    )
    table["change"] = table["recent_late_share"] - table["earlier_late_share"]
    order = table["change"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order].reset_index(drop=True)


def tier_figure(items: pd.DataFrame) -> Figure:
    table = breakdown(items, "risk_tier")
    bar = {
        "type": "bar",
        "name": "Open amount",
        "x": table["risk_tier"],
        "y": table["amount"],
        "marker": {"color": [TIER_COLORS[t] for t in table["risk_tier"]]},
        "customdata": table["invoices"],
        "hovertemplate": "%{x}: %{y:,.0f} in %{customdata} invoices<extra></extra>",
    }
    return figure([bar], "Open amount by risk tier")


def breakdown_figure(items: pd.DataFrame, by: str, title: str, top: int = 12) -> Figure:
    table = breakdown(items, by).head(top)
    traces = [
        {
            "type": "bar",
            "name": "Open amount",
            "x": table[by],
            "y": table["amount"],
            "marker": {"color": NEUTRAL},
        },
        {
            "type": "bar",
            "name": "Expected late amount",
            "x": table[by],
            "y": table["expected_late_amount"],
            "marker": {"color": LATE},
        },
    ]
    # The legend sits beside the short title: below the plot it would cover the long,
    # slanted category names.
    return figure(
        traces,
        title,
        barmode="group",
        xaxis={"type": "category"},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )


def _top_customers(items: pd.DataFrame, top: int) -> pd.DataFrame:
    grouped = items.groupby("customer_id")
    table = pd.DataFrame(
        {
            "customer_name": grouped["customer_name"].first(),
            "segment": grouped["segment"].first(),
            "open_invoices": grouped.size(),
            "amount": grouped["amount"].sum(),
            "expected_late_amount": grouped["expected_late_amount"].sum(),
            "max_p_late": grouped["p_late"].max(),
        }
    )
    return table.sort_values("expected_late_amount", ascending=False).head(top).reset_index()


def settled_counts(
    connection: sa.Connection, start: dt.date, as_of: dt.date, grace_days: int
) -> pd.DataFrame:
    """Per customer and ``recent`` (settled in the last :data:`RECENT_DAYS` days): invoices
    settled from ``start`` to ``as_of`` and how many of them more than ``grace_days`` late,
    counted in the database."""
    recent_from = as_of - dt.timedelta(days=RECENT_DAYS)
    recent = sa.case((Invoice.settled_date > recent_from, 1), else_=0)
    late = settled_late(grace_days)
    return read_frame(
        connection,
        sa.select(
            Invoice.customer_id,
            recent.label("recent"),
            sa.func.count().label("settled"),
            sa.func.sum(late).label("late"),
        )
        .where(
            Invoice.settled_date >= start,
            Invoice.settled_date <= as_of,
            Invoice.is_credit_note.is_(False),
        )
        .group_by(Invoice.customer_id, recent),
    )


def _score_moves(connection: sa.Connection, invoice_ids: list[str], as_of: dt.date) -> pd.DataFrame:
    """Open invoices whose latest P(late) differs most from their first (at issuance)."""
    columns = ["invoice_id", "first_p_late", "latest_p_late", "move"]
    if not invoice_ids:
        return pd.DataFrame(columns=columns)
    day_after = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    open_on_day = (
        (Invoice.issue_date <= as_of)
        & (Invoice.settled_date.is_(None) | (Invoice.settled_date > as_of))
        & Invoice.is_credit_note.is_(False)
    )
    frame = read_frame(
        connection,
        sa.select(Prediction.invoice_id, Prediction.id, Prediction.p_late, Prediction.as_of)
        .join(Invoice, Invoice.invoice_id == Prediction.invoice_id)
        .where(open_on_day, Prediction.as_of < day_after)
        .order_by(Prediction.as_of, Prediction.id),
    )
    frame = frame[frame["invoice_id"].isin(set(invoice_ids))]
    grouped = frame.groupby("invoice_id")["p_late"]
    table = pd.DataFrame(
        {"first_p_late": grouped.first(), "latest_p_late": grouped.last(), "count": grouped.size()}
    )
    table = table[table["count"] > 1].drop(columns="count")
    table["move"] = table["latest_p_late"] - table["first_p_late"]
    order = table["move"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order].reset_index()[columns]
