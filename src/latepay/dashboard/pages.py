"""What each dashboard page shows: its title, figures and tables, ready for the templates.

Each function gathers its page's data from the modules below the dashboard (actions,
planning, learning, models) and turns it into figures; nothing here computes a business
figure of its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from latepay.actions.worklist import build_worklist
from latepay.config import Settings
from latepay.dashboard import customer as customer_data
from latepay.dashboard import forecast as forecast_charts
from latepay.dashboard import model as model_charts
from latepay.dashboard import overview as overview_charts
from latepay.dashboard import risk as risk_data
from latepay.dashboard.charts import LATE, Figure, figure, figure_html
from latepay.dashboard.health import Health
from latepay.db.tables import utcnow
from latepay.errors import InputError
from latepay.models.registry import ModelRegistry
from latepay.planning.exposure import expected_late_amounts, load_scores
from latepay.planning.forecast import build_forecast
from latepay.planning.receivables import (
    NO_CURRENCY,
    Receivables,
    currencies,
    load_receivables,
    outstanding_invoices,
    receivables_by_month,
    receivables_snapshot,
)

# Rows the worklist page lists; the API pages further.
WORKLIST_ROWS = 500
# Months of trend on the overview.
TREND_MONTHS = 24


def overview(
    engine: Engine, settings: Settings, as_of: dt.date, currency: str | None = None
) -> dict[str, Any]:
    invoices, payments = load_receivables(engine)
    choices = currencies(invoices)
    currency = _main_currency(invoices, as_of) if currency is None else currency
    if currency not in choices:
        raise InputError(f"no invoices in {currency!r}; the ledger has {', '.join(choices)}")
    invoices = invoices[invoices["currency"] == currency]
    # The book ignores the payments of other currencies' invoices.
    book = Receivables(invoices, payments)
    snapshot = receivables_snapshot(book, as_of)
    first = (pd.Timestamp(as_of) - pd.DateOffset(months=TREND_MONTHS - 1)).date()
    first = max(first, invoices["issue_date"].min().date()) if len(invoices) else as_of
    trend = receivables_by_month(book, first=first, last=as_of)
    exposure = expected_late_amounts(book, load_scores(engine), list(trend["as_of"]))
    return {
        "title": "Overview",
        "part": "parts/overview.html.j2",
        "as_of": as_of,
        "currency": currency,
        "currencies": choices,
        "snapshot": snapshot,
        "expected_late_amount": exposure["expected_late_amount"].iloc[-1],
        "figures": [
            figure_html(overview_charts.aging_figure(snapshot.aging, currency), "aging"),
            figure_html(overview_charts.dso_figure(trend), "dso-trend"),
            figure_html(overview_charts.aging_trend_figure(trend, currency), "aging-trend"),
            figure_html(overview_charts.overdue_share_figure(trend), "overdue-trend"),
            figure_html(overview_charts.exposure_figure(exposure, currency), "exposure-trend"),
        ],
    }


def risk(engine: Engine, settings: Settings, as_of: dt.date) -> dict[str, Any]:
    view = risk_data.risk_view(engine, settings, as_of)
    items = view.open_items
    return {
        "title": "Risk",
        "part": "parts/risk.html.j2",
        "as_of": as_of,
        "open_invoices": len(items),
        "expected_late_amount": float(items["expected_late_amount"].sum()),
        "figures": [
            figure_html(risk_data.tier_figure(items), "risk-by-tier"),
            figure_html(
                risk_data.breakdown_figure(items, "segment", "By customer segment"),
                "risk-by-segment",
            ),
            figure_html(
                risk_data.breakdown_figure(items, "industry", "By industry"), "risk-by-industry"
            ),
            figure_html(
                risk_data.breakdown_figure(items, "country", "By country"), "risk-by-country"
            ),
        ],
        "top_customers": view.top_customers.to_dict("records"),
        "behaviour_changes": view.behaviour_changes.to_dict("records"),
        "score_moves": view.score_moves.to_dict("records"),
    }


def forecast(
    engine: Engine, settings: Settings, as_of: dt.date, currency: str | None = None
) -> dict[str, Any]:
    outlook = build_forecast(engine, as_of=as_of, settings=settings)
    parts = {part.currency: part for part in outlook.currencies}
    if not parts:
        raise InputError(f"no invoice is open on {as_of}: there is nothing to forecast")
    if currency is None:
        currency = max(parts, key=lambda code: parts[code].total.open_amount)
    if currency not in parts:
        raise InputError(f"no open invoices in {currency!r}; there are {', '.join(parts)}")
    part = parts[currency]
    return {
        "title": "Forecast",
        "part": "parts/forecast.html.j2",
        "as_of": as_of,
        "currency": currency,
        "currencies": sorted(parts),
        "outlook": outlook,
        "forecast": part,
        "figures": [
            figure_html(forecast_charts.cash_in_figure(part.total, currency), "cash-in"),
            figure_html(
                forecast_charts.segment_figure(part.segments, currency), "cash-in-segments"
            ),
        ],
    }


def worklist(engine: Engine, settings: Settings, as_of: dt.date) -> dict[str, Any]:
    work = build_worklist(engine, as_of=as_of, settings=settings, limit=WORKLIST_ROWS)
    rows = [item.to_dict() for item in work.items()]
    by_action = (
        pd.DataFrame(rows, columns=["action", "expected_late_amount"])
        .groupby("action")["expected_late_amount"]
        .sum()
        .sort_values()
    )
    return {
        "title": "Worklist",
        "part": "parts/worklist.html.j2",
        "as_of": as_of,
        "worklist": work,
        "rows": rows,
        "figures": [figure_html(_action_figure(by_action), "worklist-by-action")],
    }


def customer(engine: Engine, settings: Settings, customer_id: str) -> dict[str, Any]:
    timeline = customer_data.customer_timeline(engine, customer_id)
    today = utcnow().date()
    invoices = timeline.invoices
    settled = invoices.dropna(subset=["settled_date"])
    days_late = (
        pd.to_datetime(settled["settled_date"]) - pd.to_datetime(settled["due_date"])
    ).dt.days
    return {
        "title": f"Customer {customer_id}",
        "part": "parts/customer.html.j2",
        "as_of": today,
        "customer": timeline.customer,
        "timeline": timeline,
        "open_balance": float(invoices.loc[invoices["settled_date"].isna(), "amount"].sum()),
        "late_share": float((days_late > settings.grace_days).mean()) if len(settled) else None,
        "figures": [
            figure_html(customer_data.timeline_figure(timeline, today), "customer-timeline"),
            figure_html(customer_data.scores_figure(timeline), "customer-scores"),
        ],
    }


def model(
    engine: Engine, settings: Settings, *, served: str | None, health: Health | None
) -> dict[str, Any]:
    """The registry's versions, and the model health given (None while it is computed)."""
    versions = [
        {**row, "holdout": (row["metrics"] or {}).get("holdout") or {}}
        for row in ModelRegistry(settings.model_dir, engine).versions()
    ]
    figures = []
    if health is not None and health.performance is not None:
        figures.append(
            figure_html(model_charts.monthly_performance_figure(health.performance), "live-auc")
        )
        figures.append(
            figure_html(model_charts.calibration_figure(health.performance), "live-calibration")
        )
    if health is not None and health.drift is not None:
        drift = model_charts.drift_figure(
            health.drift, settings.drift_watch_psi, settings.drift_alert_psi
        )
        figures.append(figure_html(drift, "drift"))
    return {
        "title": "Model",
        "part": "parts/model.html.j2",
        "as_of": utcnow().date(),
        "served": served,
        "versions": versions,
        "health": health,
        "figures": figures,
    }


def _action_figure(by_action: pd.Series) -> Figure:
    bar = {
        "type": "bar",
        "orientation": "h",
        "x": by_action.to_numpy(),
        "y": [action.replace("_", " ") for action in by_action.index],
        "marker": {"color": LATE},
    }
    return figure([bar], "Expected late amount by next action", height=300)


def _main_currency(invoices: pd.DataFrame, as_of: dt.date) -> str:
    """The currency with the most receivables at ``as_of`` (of all invoices, if none is open)."""
    owed = outstanding_invoices(invoices, as_of)
    frame = owed if len(owed) else invoices
    if frame.empty:
        return NO_CURRENCY
    return str(frame.groupby("currency")["amount"].sum().idxmax())
