"""The model page's figures: live ROC AUC and calibration on matured invoices, and drift."""

from __future__ import annotations

from latepay.dashboard.charts import LATE, NEUTRAL, ON_TIME, Figure, figure
from latepay.learning.drift import DriftReport
from latepay.learning.performance import PerformanceReport

# Features listed in the drift figure, highest PSI first.
DRIFT_FEATURES = 20
DRIFT_COLORS = {"stable": "#2ca02c", "watch": "#ffbf00", "drift": LATE, "seasonal": "#aaaaaa"}


def monthly_performance_figure(report: PerformanceReport) -> Figure:
    months = [group.group for group in report.by_month]
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "ROC AUC",
            "x": months,
            "y": [group.roc_auc for group in report.by_month],
            "line": {"color": ON_TIME},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Brier score",
            "x": months,
            "y": [group.brier for group in report.by_month],
            "line": {"color": LATE},
        },
        {
            "type": "bar",
            "name": "Matured invoices",
            "x": months,
            "y": [group.invoices for group in report.by_month],
            "yaxis": "y2",
            "marker": {"color": NEUTRAL},
            "opacity": 0.4,
        },
    ]
    return figure(
        traces,
        "Live performance by month of issue (scores at issuance, matured invoices)",
        xaxis={"type": "category"},
        yaxis={"range": [0, 1]},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "title": {"text": "invoices"},
        },
    )


def calibration_figure(report: PerformanceReport) -> Figure:
    bins = [b for b in report.overall.calibration if b.invoices]
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Perfect calibration",
            "x": [0, 1],
            "y": [0, 1],
            "line": {"color": "#888888", "dash": "dash", "width": 1},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Observed late rate",
            "x": [b.mean_predicted for b in bins],
            "y": [b.observed_rate for b in bins],
            "text": [f"{b.invoices:,} invoices" for b in bins],
            "line": {"color": LATE},
        },
    ]
    return figure(
        traces,
        "Calibration: predicted P(late) at issuance against what happened",
        xaxis={"range": [0, 1], "title": {"text": "mean predicted P(late)"}},
        yaxis={"range": [0, 1], "title": {"text": "observed late rate"}},
    )


def drift_figure(report: DriftReport, watch: float, alert: float) -> Figure:
    rows = report.rows[:DRIFT_FEATURES][::-1]
    bar = {
        "type": "bar",
        "orientation": "h",
        "x": [row.psi for row in rows],
        "y": [row.feature for row in rows],
        "marker": {"color": [DRIFT_COLORS.get(row.status, "#888888") for row in rows]},
        "hovertemplate": "%{y}: PSI %{x:.3f}<extra></extra>",
    }
    thresholds = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": value,
            "x1": value,
            "y0": 0,
            "y1": 1,
            "line": {"color": color, "dash": "dash", "width": 1},
        }
        for value, color in ((watch, "#ffbf00"), (alert, LATE))
    ]
    return figure(
        [bar],
        f"Drift: PSI, last {report.recent_invoices:,} invoices against the training window",
        height=max(340, 22 * len(rows) + 120),
        shapes=thresholds,
        yaxis={"type": "category"},
        margin={"l": 220, "r": 20, "t": 50, "b": 50},
    )
