"""Turning a page's context into HTML, for the live dashboard and the offline report alike.

The live pages load plotly.js, the stylesheet and the table script from ``/static/``; the
offline report inlines the same files, so both render from the same templates and both work
with no internet.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from latepay import __version__

# Pages in the navigation bar: (path, title).
NAVIGATION = (
    ("/", "Overview"),
    ("/risk", "Risk"),
    ("/worklist", "Worklist"),
    ("/forecast", "Forecast"),
    ("/model", "Model"),
)
# Bundled files served under /static/ and inlined by the offline report.
ASSET_TYPES = {
    "plotly.min.js": "text/javascript",
    "dashboard.css": "text/css",
    "dashboard.js": "text/javascript",
}


@cache
def asset(name: str) -> str:
    """The text of a bundled asset (see :data:`ASSET_TYPES`)."""
    if name not in ASSET_TYPES:
        raise KeyError(name)
    if name == "plotly.min.js":
        return get_plotlyjs()
    return files("latepay.dashboard").joinpath(f"static/{name}").read_text(encoding="utf-8")


@cache
def environment() -> Environment:
    # select_autoescape() alone only escapes names ending in .html; ours end in .html.j2.
    env = Environment(
        loader=PackageLoader("latepay", "dashboard/templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["percent"] = percent
    return env


def render_page(template: str, *, path: str, **context: Any) -> str:
    """One dashboard page, loading its assets from ``/static/``."""
    return (
        environment()
        .get_template(template)
        .render(
            navigation=NAVIGATION, current=path, version=__version__, inline_assets=None, **context
        )
    )


def inline_assets() -> dict[str, Markup]:
    """Every asset's text, for a page that must open from a file or an e-mail."""
    return {
        "plotly": Markup(asset("plotly.min.js")),
        "css": Markup(asset("dashboard.css")),
        "js": Markup(asset("dashboard.js")),
    }


def money(value: float | None) -> str:
    """Thousands separated, no decimals: planning figures, not accounting entries."""
    if value is None or value != value:
        return "–"
    return f"{value:,.0f}"


def percent(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:
        return "–"
    return f"{100 * value:.{digits}f}%"
