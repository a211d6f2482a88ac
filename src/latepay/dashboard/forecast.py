"""The forecast page's figures: weekly expected cash-in with its P10-P90 band, by segment."""

from __future__ import annotations

from latepay.dashboard.charts import LATE, NEUTRAL, ON_TIME, Figure, figure
from latepay.planning.forecast import CashIn

SEGMENT_COLORS = {
    "reliable": "#2ca02c",
    "watch": "#ffbf00",
    "at-risk": "#ff7f0e",
    "critical": LATE,
    "unknown": "#aaaaaa",
}


def cash_in_figure(total: CashIn, currency: str) -> Figure:
    starts = [week.start for week in total.weeks]
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "P90",
            "x": starts,
            "y": [week.p90 for week in total.weeks],
            "line": {"width": 0},
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "P10-P90",
            "x": starts,
            "y": [week.p10 for week in total.weeks],
            "fill": "tonexty",
            "fillcolor": "rgba(31, 119, 180, 0.18)",
            "line": {"width": 0},
        },
        {
            "type": "bar",
            "name": "Expected",
            "x": starts,
            "y": [week.expected for week in total.weeks],
            "marker": {"color": NEUTRAL},
            "opacity": 0.8,
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "P50",
            "x": starts,
            "y": [week.p50 for week in total.weeks],
            "line": {"color": ON_TIME},
        },
    ]
    return figure(
        traces,
        f"Expected cash-in per week, with P10-P90 ({currency})",
        height=380,
        xaxis={"type": "date"},
    )


def segment_figure(segments: dict[str, CashIn], currency: str) -> Figure:
    traces = [
        {
            "type": "bar",
            "name": name,
            "x": [week.start for week in cash_in.weeks],
            "y": [week.expected for week in cash_in.weeks],
            "marker": {"color": SEGMENT_COLORS.get(name, "#888888")},
        }
        for name, cash_in in segments.items()
        if cash_in.open_invoices
    ]
    return figure(
        traces,
        f"Expected cash-in per week by customer segment ({currency})",
        barmode="stack",
        xaxis={"type": "date"},
    )
