"""Plotly figures for the evaluation report; each function builds and returns one figure.

Model comparison figures take ``scores``: a mapping from model name to ``(y_true, p_late)``,
in the order the models should appear. A model keeps the same colour in every figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from latepay.evaluation.metrics import calibration_table, lift_table

Scores = Mapping[str, tuple[np.ndarray, np.ndarray]]

MODEL_COLORS = qualitative.Plotly
LATE_COLOR = "#d62728"
ON_TIME_COLOR = "#1f77b4"
REFERENCE_LINE = {"color": "#888888", "dash": "dash", "width": 1}
# Reference-line labels sit on a translucent white box so bars or curves behind stay legible.
REFERENCE_LABEL = {
    "annotation_bgcolor": "rgba(255, 255, 255, 0.85)",
    "annotation_font_color": "#555555",
}
FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


def _finish(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    """Apply the layout shared by every figure of the report."""
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        font={"family": FONT_FAMILY, "size": 12},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0},
    )
    return fig


def _color(index: int) -> str:
    return MODEL_COLORS[index % len(MODEL_COLORS)]


def _has_both_classes(y_true: np.ndarray) -> bool:
    return len(np.unique(y_true)) == 2


def late_rate_over_time_figure(monthly: pd.DataFrame) -> go.Figure:
    """Late rate by month of issue (line) over the number of invoices issued (bars).

    Parameters
    ----------
    monthly : DataFrame
        Output of :func:`latepay.evaluation.eda.late_rate_by_month`.
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    # Bars on the primary axis and the line on the secondary one, so the line is drawn on top.
    fig.add_trace(
        go.Bar(
            x=monthly["month"],
            y=monthly["count"],
            name="invoices issued (left axis)",
            marker_color="#d0d7e2",
            hovertemplate="%{x|%b %Y}: %{y} invoices<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=monthly["month"],
            y=monthly["late_rate"],
            mode="lines+markers",
            name="late rate (right axis)",
            line={"color": LATE_COLOR, "width": 2},
            hovertemplate="%{x|%b %Y}: %{y:.1%} late<extra></extra>",
        ),
        secondary_y=True,
    )
    fig.update_yaxes(title_text="invoices issued", rangemode="tozero", secondary_y=False)
    # Own ticks for the rate axis: ticks synced to the count axis land on odd percentages.
    fig.update_yaxes(
        title_text="late rate",
        tickformat=".0%",
        rangemode="tozero",
        tickmode="auto",
        showgrid=False,
        secondary_y=True,
    )
    return _finish(fig, "Late rate by month of issue")


def segment_late_rate_figure(
    table: pd.DataFrame, column: str, overall_late_rate: float
) -> go.Figure:
    """Late rate for each value of one segment column, with the overall rate for reference.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`latepay.evaluation.eda.late_rate_by_segment`.
    column : str
        Name of the segment column, used in the title.
    overall_late_rate : float
        Late rate over all invoices, drawn as a dashed line.
    """
    fig = go.Figure(
        go.Bar(
            x=table["value"],
            y=table["late_rate"],
            customdata=table["count"],
            marker_color=LATE_COLOR,
            opacity=0.8,
            text=[f"n={count}" for count in table["count"]],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1%} late of %{customdata} invoices<extra></extra>",
            name="late rate",
        )
    )
    fig.add_hline(
        y=overall_late_rate,
        line=REFERENCE_LINE,
        annotation_text=f"all invoices {overall_late_rate:.1%}",
        annotation_position="top left",
        **REFERENCE_LABEL,
    )
    fig.update_yaxes(title_text="late rate", tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(type="category")
    return _finish(fig, f"Late rate by {column.replace('_', ' ')}", height=360)


def amount_distribution_figure(invoices: pd.DataFrame) -> go.Figure:
    """Box plots of invoice amount for late and on-time invoices.

    The amount axis is logarithmic when every amount is positive, since invoice amounts span
    several orders of magnitude.

    Parameters
    ----------
    invoices : DataFrame
        Labelled invoices with ``amount`` and ``is_late``.
    """
    fig = go.Figure()
    for is_late, label, color in ((0, "on time", ON_TIME_COLOR), (1, "late", LATE_COLOR)):
        amounts = invoices.loc[invoices["is_late"] == is_late, "amount"].astype(float)
        fig.add_trace(
            go.Box(
                y=amounts,
                name=f"{label} (n={len(amounts)})",
                marker_color=color,
                boxmean=True,
                boxpoints="outliers",
            )
        )
    log_scale = bool((invoices["amount"].astype(float) > 0).all())
    fig.update_yaxes(title_text="amount", type="log" if log_scale else "linear")
    fig.update_layout(showlegend=False)
    return _finish(fig, "Invoice amount, late vs on time")


def roc_figure(scores: Scores) -> go.Figure:
    """ROC curves of all models on one chart, with the diagonal of a random ranking.

    Models whose test labels hold a single class have no ROC curve and are left out.
    """
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=REFERENCE_LINE, name="random"))
    for index, (name, (y_true, p_late)) in enumerate(scores.items()):
        if not _has_both_classes(y_true):
            continue
        fpr, tpr, thresholds = roc_curve(y_true, p_late)
        auc = roc_auc_score(y_true, p_late)
        fig.add_trace(
            go.Scatter(
                x=fpr,
                y=tpr,
                customdata=np.minimum(thresholds, 1.0),
                mode="lines",
                name=f"{name} (AUC {auc:.3f})",
                line={"color": _color(index), "width": 2},
                hovertemplate="FPR %{x:.2f}, TPR %{y:.2f} at p ≥ %{customdata:.3f}"
                f"<extra>{name}</extra>",
            )
        )
    fig.update_xaxes(title_text="false positive rate (on-time invoices flagged)", range=[0, 1])
    fig.update_yaxes(title_text="true positive rate (late invoices caught)", range=[0, 1.02])
    return _finish(fig, "ROC curves")


def precision_recall_figure(scores: Scores) -> go.Figure:
    """Precision-recall curves of all models, with the base rate a random ranking achieves.

    Curves are drawn as steps, the shape average precision integrates. Models whose test labels
    hold a single class are left out.
    """
    fig = go.Figure()
    base_rates = {name: float(np.mean(y_true)) for name, (y_true, _) in scores.items()}
    for index, (name, (y_true, p_late)) in enumerate(scores.items()):
        if not _has_both_classes(y_true):
            continue
        precision, recall, _ = precision_recall_curve(y_true, p_late)
        ap = average_precision_score(y_true, p_late)
        fig.add_trace(
            go.Scatter(
                x=recall,
                y=precision,
                mode="lines",
                line_shape="hv",
                name=f"{name} (AP {ap:.3f})",
                line={"color": _color(index), "width": 2},
                hovertemplate=f"recall %{{x:.2f}}, precision %{{y:.2f}}<extra>{name}</extra>",
            )
        )
    # Models are normally scored on the same test invoices; one line then serves them all.
    for rate in sorted(set(base_rates.values())):
        fig.add_hline(
            y=rate,
            line=REFERENCE_LINE,
            annotation_text=f"base rate {rate:.1%}",
            annotation_position="bottom right",
            **REFERENCE_LABEL,
        )
    fig.update_xaxes(title_text="recall (share of late invoices caught)", range=[0, 1])
    fig.update_yaxes(title_text="precision (share of flagged invoices late)", range=[0, 1.02])
    return _finish(fig, "Precision-recall curves")


def calibration_figure(scores: Scores, bins: int = 10) -> go.Figure:
    """Reliability diagram: observed late rate against mean prediction in equal-width bins.

    Points on the diagonal are perfectly calibrated; points below it are over-confident about
    lateness. Hovering a point shows how many invoices its bin holds.
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line=REFERENCE_LINE, name="perfectly calibrated"
        )
    )
    for index, (name, (y_true, p_late)) in enumerate(scores.items()):
        table = calibration_table(y_true, p_late, bins)
        fig.add_trace(
            go.Scatter(
                x=table["mean_predicted"],
                y=table["observed_rate"],
                customdata=table["count"],
                mode="lines+markers",
                name=name,
                line={"color": _color(index), "width": 2},
                marker={"size": 8},
                hovertemplate="predicted %{x:.2f}, observed %{y:.2f} (%{customdata} invoices)"
                f"<extra>{name}</extra>",
            )
        )
    fig.update_xaxes(title_text="mean predicted P(late)", range=[0, 1])
    fig.update_yaxes(title_text="observed late rate", range=[0, 1.02])
    return _finish(fig, f"Calibration ({bins} equal-width bins)")


def score_distribution_figure(scores: Scores, bin_width: float = 0.05) -> go.Figure:
    """Histogram of predicted P(late) on the test invoices, one outline per model.

    Read next to the calibration curve: it shows how many invoices each calibration point
    rests on, and whether a model separates invoices or piles them near the base rate.
    """
    fig = go.Figure()
    for index, (name, (_, p_late)) in enumerate(scores.items()):
        fig.add_trace(
            go.Histogram(
                x=p_late,
                name=name,
                histnorm="percent",
                xbins={"start": 0.0, "end": 1.0, "size": bin_width},
                marker={"color": _color(index), "line": {"color": _color(index), "width": 1}},
                opacity=0.45,
                hovertemplate=f"P(late) %{{x}}: %{{y:.1f}}% of invoices<extra>{name}</extra>",
            )
        )
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="predicted P(late)", range=[0, 1])
    fig.update_yaxes(title_text="share of test invoices (%)")
    return _finish(fig, "Distribution of predicted P(late)")


def gains_figure(scores: Scores, groups: int = 10) -> go.Figure:
    """Cumulative gains (left) and lift by score decile (right) for all models.

    Cumulative gains answer "if we contact the riskiest x% of invoices, what share of the late
    ones do we reach?"; lift is how many times the late rate of a decile exceeds the average.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Cumulative gains", "Lift by score decile (1 = riskiest)"),
        horizontal_spacing=0.1,
    )
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=REFERENCE_LINE, name="random"),
        row=1,
        col=1,
    )
    for index, (name, (y_true, p_late)) in enumerate(scores.items()):
        table = lift_table(y_true, p_late, groups)
        contacted = np.concatenate([[0.0], np.cumsum(table["count"]) / table["count"].sum()])
        captured = np.concatenate([[0.0], table["cumulative_capture"]])
        color = _color(index)
        fig.add_trace(
            go.Scatter(
                x=contacted,
                y=captured,
                mode="lines+markers",
                name=name,
                legendgroup=name,
                line={"color": color, "width": 2},
                hovertemplate="riskiest %{x:.0%} holds %{y:.0%} of late invoices"
                f"<extra>{name}</extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Bar(
                x=table["decile"],
                y=table["lift"],
                name=name,
                legendgroup=name,
                showlegend=False,
                marker_color=color,
                hovertemplate=f"decile %{{x}}: lift %{{y:.2f}}<extra>{name}</extra>",
            ),
            row=1,
            col=2,
        )
    fig.add_hline(y=1, line=REFERENCE_LINE, row=1, col=2)
    fig.update_xaxes(title_text="share of invoices contacted", tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title_text="share of late invoices", tickformat=".0%", row=1, col=1)
    fig.update_xaxes(title_text="score decile", dtick=1, row=1, col=2)
    fig.update_yaxes(title_text="lift", rangemode="tozero", row=1, col=2)
    fig.update_layout(barmode="group")
    return _finish(fig, "Lift and cumulative gains")


def confusion_matrix_figure(name: str, counts: Mapping[str, int], threshold: float) -> go.Figure:
    """Heatmap of the confusion matrix of one model at its decision threshold.

    Parameters
    ----------
    name : str
        Model name, used in the title.
    counts : mapping
        ``tn``, ``fp``, ``fn`` and ``tp`` (as returned by
        :func:`~latepay.evaluation.metrics.classification_metrics`).
    threshold : float
        The threshold the counts were computed at.
    """
    matrix = np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]])
    total = max(int(matrix.sum()), 1)
    kinds = np.array([["true negative", "false positive"], ["false negative", "true positive"]])
    labels = [
        [f"{count}<br>({count / total:.1%})<br>{kind}" for count, kind in zip(*row, strict=True)]
        for row in zip(matrix, kinds, strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=["predicted on time", "predicted late"],
            y=["actually on time", "actually late"],
            text=labels,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hovertemplate="%{y}, %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _finish(fig, f"{name}: confusion matrix at p ≥ {threshold:.2f}", height=340)


def feature_importance_figure(name: str, importance: pd.Series, top: int = 20) -> go.Figure:
    """Horizontal bars of the ``top`` most important features, as shares of total importance.

    Importances come on any scale (split gain, impurity decrease, permutation drop), so they are
    normalised: each bar is the feature's absolute importance divided by the sum over all
    features, which makes models comparable at a glance.

    Parameters
    ----------
    name : str
        Model name, used in the title.
    importance : Series
        Feature name -> importance.
    top : int, default 20
        Number of features shown.
    """
    magnitude = importance.astype(float).abs()
    total = magnitude.sum()
    share = magnitude / total if total > 0 else magnitude
    shown = share.sort_values(ascending=False, kind="stable").head(top)
    # Plotly draws horizontal bars bottom-up; reverse so the most important feature is on top.
    shown = shown.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=shown.to_numpy(),
            y=shown.index.astype(str),
            orientation="h",
            marker_color="#4c78a8",
            hovertemplate="%{y}: %{x:.1%} of total importance<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="share of total importance", tickformat=".0%")
    fig.update_yaxes(automargin=True)
    height = 120 + 24 * max(len(shown), 1)
    return _finish(fig, f"{name}: top {len(shown)} features", height=height)
