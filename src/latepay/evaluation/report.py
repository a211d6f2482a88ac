"""The evaluation report: one self-contained HTML file comparing models on the same test invoices.

The file embeds plotly.js once and every figure's data, so it opens offline, from an e-mail
attachment or a shared drive, and looks the same in a year. Figures are built in
:mod:`latepay.evaluation.plots`, data summaries in :mod:`latepay.evaluation.eda`, numbers in
:mod:`latepay.evaluation.metrics`; this module only gathers them into the template
``templates/report.html.j2``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from latepay import __version__
from latepay.evaluation import eda, plots
from latepay.evaluation.metrics import classification_metrics

EXAMPLE_COLUMNS = ("invoice_id", "customer_id", "amount", "p_late", "is_late", "reasons")
INVOICE_COLUMNS = ("invoice_id", "customer_id", "issue_date", "amount", "is_late")
REASON_SEPARATOR = "; "

HIGHER, LOWER = "higher", "lower"


@dataclass(frozen=True)
class ModelEvaluation:
    """One model's predictions on the test invoices, and what the report shows about it.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"seed"`` or ``"gbm"``.
    description : str
        One line, e.g. ``"SMOTE + Random Forest (the case study's method)"``.
    y_true : ndarray of 0/1
        1 when the test invoice was paid late.
    p_late : ndarray of float
        Predicted probability of being late, in the order of ``y_true``.
    threshold : float
        The decision threshold stored in the model (late when ``p_late >= threshold``).
    feature_importance : Series
        Feature name -> importance, on any scale; the report normalises it.
    examples : DataFrame
        A few test invoices: invoice_id, customer_id, amount, p_late, is_late and reasons
        (sentences joined by ``"; "``).
    training_seconds : float, optional
        Wall-clock training time.
    """

    name: str
    description: str
    y_true: np.ndarray
    p_late: np.ndarray
    threshold: float
    feature_importance: pd.Series
    examples: pd.DataFrame
    training_seconds: float | None = None


@dataclass(frozen=True)
class DataOverview:
    """The labelled invoices the models were trained and tested on.

    Parameters
    ----------
    invoices : DataFrame
        All labelled invoices: invoice_id, customer_id, issue_date, amount, is_late (0/1),
        days_late, plus any of the segment columns industry, country, segment, channel,
        payment_method (which may be all missing).
    title : str
        Name of the data, e.g. ``"IBM Accounts Receivable sample"``.
    split_description : str
        How the data was split, e.g. ``"trained on invoices settled before 2013-06-01; tested
        on 617 invoices issued after"``.
    """

    invoices: pd.DataFrame
    title: str
    split_description: str


@dataclass(frozen=True)
class _MetricRow:
    key: str
    label: str
    better: str | None
    display: Callable[[float], str]


def _fixed(digits: int) -> Callable[[float], str]:
    return lambda value: f"{value:.{digits}f}"


def _percent(value: float) -> str:
    return f"{value:.1%}"


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 60 else f"{value / 60:.1f} min"


def _count(value: float) -> str:
    return f"{int(value):,}"


METRIC_ROWS = (
    _MetricRow("roc_auc", "ROC AUC", HIGHER, _fixed(3)),
    _MetricRow("pr_auc", "PR AUC (average precision)", HIGHER, _fixed(3)),
    _MetricRow("brier", "Brier score", LOWER, _fixed(4)),
    _MetricRow("log_loss", "Log loss", LOWER, _fixed(4)),
    _MetricRow("ece", "Expected calibration error", LOWER, _fixed(4)),
    _MetricRow("accuracy", "Accuracy", HIGHER, _fixed(3)),
    _MetricRow("f1_late", "F1 (late)", HIGHER, _fixed(3)),
    _MetricRow("precision_late", "Precision (late)", HIGHER, _fixed(3)),
    _MetricRow("recall_late", "Recall (late)", HIGHER, _fixed(3)),
    _MetricRow("threshold", "Decision threshold", None, _fixed(3)),
    _MetricRow("training_seconds", "Training time", LOWER, _seconds),
    _MetricRow("n", "Test invoices", None, _count),
    _MetricRow("base_rate", "Late rate in test", None, _percent),
)


def write_report(path: Path, overview: DataOverview, evaluations: list[ModelEvaluation]) -> Path:
    """Write the evaluation report as one self-contained HTML file.

    Parameters
    ----------
    path : Path
        Where to write the file; missing parent folders are created.
    overview : DataOverview
        The labelled invoices, for the data summary section.
    evaluations : list of ModelEvaluation
        The models to compare, in display order; each name must be unique.

    Returns
    -------
    Path
        ``path``, once written.
    """
    _check_inputs(overview, evaluations)
    metrics = [
        {
            **classification_metrics(evaluation.y_true, evaluation.p_late, evaluation.threshold),
            "training_seconds": evaluation.training_seconds,
        }
        for evaluation in evaluations
    ]
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=overview.title,
            generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            version=__version__,
            plotly_js=Markup(get_plotlyjs()),
            data=_data_context(overview),
            models=_models_context(evaluations, metrics),
            metric_rows=_metric_table(metrics),
            comparison_figures=_comparison_figures(evaluations),
        )
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


@cache
def _environment() -> Environment:
    # select_autoescape() alone only escapes names ending in .html; our template ends in .j2.
    return Environment(
        loader=PackageLoader("latepay", "evaluation/templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _check_inputs(overview: DataOverview, evaluations: list[ModelEvaluation]) -> None:
    if not evaluations:
        raise ValueError("evaluations is empty; pass at least one ModelEvaluation to report on.")
    names = [evaluation.name for evaluation in evaluations]
    if len(set(names)) != len(names):
        raise ValueError(f"Model names must be unique; got {names}. Rename the duplicates.")
    _require_columns(overview.invoices, INVOICE_COLUMNS, "DataOverview.invoices")
    for evaluation in evaluations:
        _require_columns(evaluation.examples, EXAMPLE_COLUMNS, f"examples of {evaluation.name!r}")


def _require_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} lacks columns {missing}; expected {list(required)}, got {list(frame.columns)}."
        )


def _figure_html(fig: go.Figure, div_id: str) -> Markup:
    """HTML of one figure, without plotly.js (the page embeds it once, in its head)."""
    return Markup(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )


def _slug(index: int, name: str) -> str:
    """A div id part unique per model (the index) and readable (the name)."""
    return f"{index}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _display(value: float | None, row: _MetricRow) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return row.display(value)


def _data_context(overview: DataOverview) -> dict[str, Any]:
    invoices = overview.invoices
    summary = eda.data_summary(invoices)
    segments = [
        _figure_html(
            plots.segment_late_rate_figure(
                eda.late_rate_by_segment(invoices, column), column, summary["late_rate"]
            ),
            f"fig-segment-{column}",
        )
        for column in eda.available_segments(invoices)
    ]
    missing = eda.missing_values(invoices)
    return {
        "split_description": overview.split_description,
        "kpis": _data_kpis(invoices, summary),
        "late_rate_by_month": _figure_html(
            plots.late_rate_over_time_figure(eda.late_rate_by_month(invoices)),
            "fig-late-rate-by-month",
        ),
        "segment_figures": segments,
        "segment_columns": ", ".join(eda.SEGMENT_COLUMNS),
        "amounts": _figure_html(plots.amount_distribution_figure(invoices), "fig-amounts"),
        "missing": [
            {
                "column": row.column,
                "count": f"{row.missing_count:,}",
                "share": _percent(row.missing_share),
                "bar_width": round(100 * row.missing_share, 1),
            }
            for row in missing.itertuples()
        ],
    }


def _data_kpis(invoices: pd.DataFrame, summary: dict[str, Any]) -> list[tuple[str, str]]:
    first, last = summary["first_issue_date"], summary["last_issue_date"]
    kpis = [
        ("Labelled invoices", f"{summary['n_invoices']:,}"),
        ("Customers", f"{summary['n_customers']:,}"),
        ("Paid late", f"{summary['n_late']:,} ({_percent(summary['late_rate'])})"),
        ("Issued", f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if pd.notna(first) else "—"),
    ]
    if "days_late" in invoices.columns:
        late_days = invoices.loc[invoices["is_late"] == 1, "days_late"].dropna()
        median = f"{late_days.median():.0f} days" if len(late_days) else "—"
        kpis.append(("Median delay of late invoices", median))
    return kpis


def _models_context(
    evaluations: list[ModelEvaluation], metrics: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {
            "name": evaluation.name,
            "description": evaluation.description,
            "confusion": _figure_html(
                plots.confusion_matrix_figure(evaluation.name, metric, evaluation.threshold),
                f"fig-confusion-{_slug(index, evaluation.name)}",
            ),
            "importance": (
                _figure_html(
                    plots.feature_importance_figure(evaluation.name, evaluation.feature_importance),
                    f"fig-importance-{_slug(index, evaluation.name)}",
                )
                if len(evaluation.feature_importance)
                else None
            ),
            "examples": _example_rows(evaluation.examples),
        }
        for index, (evaluation, metric) in enumerate(zip(evaluations, metrics, strict=True))
    ]


def _example_rows(examples: pd.DataFrame) -> list[dict[str, Any]]:
    """Example invoices, highest risk first, formatted for display."""
    ordered = examples.sort_values("p_late", ascending=False, kind="stable")
    return [
        {
            "invoice_id": row.invoice_id,
            "customer_id": row.customer_id,
            "amount": f"{float(row.amount):,.2f}",
            "p_late": _percent(float(row.p_late)),
            "outcome": "late" if int(row.is_late) == 1 else "on time",
            "is_late": int(row.is_late) == 1,
            "reasons": _split_reasons(row.reasons),
        }
        for row in ordered.itertuples(index=False)
    ]


def _split_reasons(reasons: object) -> list[str]:
    """The sentences of a reasons string; none when it is missing."""
    if not isinstance(reasons, str):
        return []
    return [reason.strip() for reason in reasons.split(REASON_SEPARATOR) if reason.strip()]


def _metric_table(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the comparison table, with the best value of each row flagged.

    A value is flagged best when it equals the best of its row and at least one model does
    worse; rows where all models tie, or without a better direction, flag nothing.
    """
    rows = []
    for row in METRIC_ROWS:
        values = [metric[row.key] for metric in metrics]
        finite = [v for v in values if v is not None and not math.isnan(v)]
        best = None
        if row.better is not None and len(set(finite)) > 1:
            best = max(finite) if row.better == HIGHER else min(finite)
        rows.append(
            {
                "label": row.label,
                "better": row.better,
                "cells": [
                    {"text": _display(value, row), "best": best is not None and value == best}
                    for value in values
                ],
            }
        )
    return rows


def _comparison_figures(evaluations: list[ModelEvaluation]) -> list[dict[str, Any]]:
    scores = {evaluation.name: (evaluation.y_true, evaluation.p_late) for evaluation in evaluations}
    return [
        {
            "figure": _figure_html(plots.roc_figure(scores), "fig-roc"),
            "caption": "Higher and further left is better: late invoices ranked above on-time "
            "ones. The dashed diagonal is a random ranking.",
        },
        {
            "figure": _figure_html(plots.precision_recall_figure(scores), "fig-precision-recall"),
            "caption": "Of the invoices flagged, how many were late (precision) against how many "
            "late invoices were flagged (recall). The dashed line is what flagging at random "
            "achieves.",
        },
        {
            "figure": _figure_html(plots.calibration_figure(scores), "fig-calibration"),
            "caption": "Points on the diagonal mean a predicted 30% really is late 30% of the "
            "time: what cash forecasts and reserves rely on.",
        },
        {
            "figure": _figure_html(plots.score_distribution_figure(scores), "fig-scores"),
            "caption": "How the test invoices spread over predicted probabilities: the number "
            "of invoices behind each calibration point.",
        },
        {
            "figure": _figure_html(plots.gains_figure(scores), "fig-gains"),
            "caption": "Left: share of all late invoices reached by working the riskiest x% "
            "first. Right: how many times more often each score decile is late than average.",
            "wide": True,
        },
    ]
