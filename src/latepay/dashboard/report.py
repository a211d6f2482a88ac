"""``latepay report``: the overview, risk, forecast and model pages as one offline HTML file.

The file inlines plotly.js, the stylesheet and the table script, so it opens from disk or as
an e-mail attachment with no network. A page that has nothing to show (no open invoice to
forecast, say) is replaced by the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy import Engine

from latepay import __version__
from latepay.config import Settings
from latepay.dashboard import pages
from latepay.dashboard.health import ModelHealth
from latepay.dashboard.render import environment, inline_assets
from latepay.errors import LatepayError
from latepay.models.registry import ModelRegistry


def write_report(engine: Engine, settings: Settings, path: Path, *, as_of: dt.date) -> Path:
    """Write the weekly report of ``as_of`` to ``path`` (parent folders are created)."""
    served = ModelRegistry(settings.model_dir, engine).champion_version()
    builders: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("Overview", lambda: pages.overview(engine, settings, as_of)),
        ("Risk", lambda: pages.risk(engine, settings, as_of)),
        ("Forecast", lambda: pages.forecast(engine, settings, as_of)),
        (
            "Model",
            lambda: pages.model(
                engine,
                settings,
                served=served,
                health=ModelHealth(engine, settings).compute(served),
            ),
        ),
    ]
    sections = [_section(title, build) for title, build in builders]
    html = (
        environment()
        .get_template("report.html.j2")
        .render(
            title=f"Weekly report {as_of}",
            as_of=as_of,
            version=__version__,
            generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            sections=sections,
            inline_assets=inline_assets(),
        )
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def _section(title: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        context = build()
    except LatepayError as error:
        return {"title": title, "body": None, "missing": str(error)}
    body = environment().get_template(context["part"]).render(**context)
    return {"title": context["title"], "body": Markup(body), "missing": None}
