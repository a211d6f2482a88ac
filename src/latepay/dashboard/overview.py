"""The overview page's figures: receivables, DSO, aging and expected late amount by month."""

from __future__ import annotations

import pandas as pd

from latepay.dashboard.charts import LATE, NEUTRAL, ON_TIME, Figure, figure
from latepay.planning.receivables import AGING_BUCKETS

# A month-end bar is drawn 20 days wide (plotly.js measures widths on a date axis in ms).
BAR_DAYS = 20
MS_PER_DAY = 86_400_000
AGING_COLORS = {
    "current": "#2ca02c",
    "1-30": "#ffbf00",
    "31-60": "#ff7f0e",
    "61-90": "#e0582a",
    "90+": LATE,
}


def aging_figure(aging: dict[str, float], currency: str) -> Figure:
    bar = {
        "type": "bar",
        "x": list(AGING_BUCKETS),
        "y": [aging[name] for name in AGING_BUCKETS],
        "marker": {"color": [AGING_COLORS[name] for name in AGING_BUCKETS]},
        "hovertemplate": "%{x}: %{y:,.0f}<extra></extra>",
    }
    return figure(
        [bar],
        f"AR aging, days past due ({currency})",
        xaxis={"type": "category"},
    )


def dso_figure(trend: pd.DataFrame) -> Figure:
    traces = [
        _line("DSO", trend["as_of"], trend["dso"], LATE),
        _line("Best-possible DSO", trend["as_of"], trend["best_possible_dso"], ON_TIME),
    ]
    return figure(traces, "DSO by month (days)", xaxis={"type": "date"})


def aging_trend_figure(trend: pd.DataFrame, currency: str) -> Figure:
    # Month ends only: today's aging is the chart beside it, and a bar one day after the last
    # month end would squeeze every bar of a date axis to a day's width.
    days = pd.to_datetime(trend["as_of"])
    month_ends = trend[days.dt.is_month_end.to_numpy()]
    if month_ends.empty:  # a ledger younger than a month
        month_ends = trend
    traces = [
        {
            "type": "bar",
            "name": name,
            "x": pd.to_datetime(month_ends["as_of"]),
            "y": month_ends[name],
            "width": BAR_DAYS * MS_PER_DAY,
            "marker": {"color": AGING_COLORS[name]},
        }
        for name in AGING_BUCKETS
    ]
    return figure(
        traces,
        f"Receivables by aging bucket, month ends ({currency})",
        barmode="stack",
        xaxis={"type": "date"},
    )


def overdue_share_figure(trend: pd.DataFrame) -> Figure:
    line = _line("Overdue share", trend["as_of"], trend["overdue_share"], LATE)
    return figure(
        [line],
        "Overdue share of receivables",
        xaxis={"type": "date"},
        yaxis={"tickformat": ".0%", "rangemode": "tozero"},
    )


def exposure_figure(exposure: pd.DataFrame, currency: str) -> Figure:
    traces = [
        _line("Receivables", exposure["as_of"], exposure["receivables"], NEUTRAL),
        _line("Expected late amount", exposure["as_of"], exposure["expected_late_amount"], LATE),
        _line("Never scored", exposure["as_of"], exposure["unscored_amount"], "#888888"),
    ]
    return figure(traces, f"Expected late amount, month ends ({currency})", xaxis={"type": "date"})


def _line(name: str, x: pd.Series, y: pd.Series, color: str) -> dict:
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": pd.to_datetime(x),
        "y": y,
        "line": {"color": color},
    }
