"""The dashboard's figures: Plotly figure specifications as plain dictionaries.

Pages draw many figures and must load in well under a second; building them as
``plotly.graph_objects`` validates every property and copies the template into each figure,
tens of milliseconds apiece. The specifications here follow Plotly's JSON schema directly and
are handed to plotly.js as they are.
"""

from __future__ import annotations

from typing import Any

import plotly.io as pio
from markupsafe import Markup

FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
GRID = "#e8ebef"
LATE = "#d62728"
ON_TIME = "#1f77b4"
NEUTRAL = "#9ecae1"
PAID = "#2ca02c"
ORANGE = "#ff7f0e"

Figure = dict[str, Any]


def figure(traces: list[dict[str, Any]], title: str, *, height: int = 340, **layout: Any) -> Figure:
    """A figure of ``traces`` in the dashboard's style; ``layout`` adds or overrides settings."""
    axis = {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True}
    return {
        "data": traces,
        "layout": {
            "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
            "height": height,
            "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
            "font": {"family": FONT_FAMILY, "size": 12, "color": "#1b1f24"},
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "legend": {"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
            "xaxis": {**axis, **layout.pop("xaxis", {})},
            "yaxis": {**axis, **layout.pop("yaxis", {})},
            **layout,
        },
    }


def figure_html(fig: Figure, div_id: str) -> Markup:
    """The figure's ``<div>`` and the script that draws it (plotly.js is loaded by the page)."""
    return Markup(
        pio.to_html(
            fig,
            validate=False,
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )
