"""The HTML report: self-contained, complete, and carrying real figure data."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_curve

from latepay.evaluation.report import DataOverview, ModelEvaluation, write_report

SECTION_HEADINGS = (
    "1. Data summary and exploration",
    "2. Model comparison",
    "3. Feature importance",
    "4. Example invoices with reasons",
)


def _overview(rng: np.random.Generator, n: int = 400) -> DataOverview:
    is_late = (rng.uniform(size=n) < 0.3).astype(int)
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"INV-{i:04d}" for i in range(n)],
            "customer_id": rng.choice([f"C{i}" for i in range(40)], size=n),
            "issue_date": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 540, size=n), unit="D"),
            "amount": rng.lognormal(mean=7, sigma=1, size=n).round(2),
            "is_late": is_late,
            "days_late": np.where(is_late == 1, rng.integers(1, 60, size=n), 0),
            "industry": rng.choice(["retail", "energy", "mining", None], size=n),
            "channel": rng.choice(["paper", "electronic"], size=n),
            "country": [None] * n,
        }
    )
    return DataOverview(
        invoices=invoices,
        title="Synthetic test data",
        split_description="trained on invoices settled before 2024-01-01; tested on 200 after",
    )


def _evaluation(
    rng: np.random.Generator, name: str, y_true: np.ndarray, noise: float, reasons: str
) -> ModelEvaluation:
    p_late = np.clip(0.3 + 0.4 * (y_true - 0.3) + rng.normal(0, noise, size=len(y_true)), 0, 1)
    features = [f"feature_{i}" for i in range(25)]
    examples = pd.DataFrame(
        {
            "invoice_id": ["INV-0001", "INV-0002", "INV-0003"],
            "customer_id": ["C1", "C2", "C3"],
            "amount": [1200.0, 530.5, 99.99],
            "p_late": [0.2, 0.9, 0.55],
            "is_late": [0, 1, 1],
            "reasons": [reasons, "paid 6 of last 10 invoices late; 3 invoices open", None],
        }
    )
    return ModelEvaluation(
        name=name,
        description=f"{name} model for the test",
        y_true=y_true,
        p_late=p_late,
        threshold=0.45,
        feature_importance=pd.Series(rng.uniform(size=25), index=features),
        examples=examples,
        training_seconds=1.5,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ModelEvaluation]]:
    rng = np.random.default_rng(42)
    y_true = (rng.uniform(size=200) < 0.3).astype(int)
    evaluations = [
        _evaluation(rng, "seed", y_true, noise=0.25, reasons="<b>dispute</b> open"),
        _evaluation(rng, "gbm", y_true, noise=0.1, reasons="customer is new"),
    ]
    path = tmp_path_factory.mktemp("report") / "nested" / "report.html"
    written = write_report(path, _overview(rng), evaluations)
    return written, evaluations


def _figure_traces(html: str, div_id: str) -> list[dict]:
    """The trace list a figure passes to Plotly.newPlot."""
    call = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*', html)
    assert call is not None, f"no figure {div_id}"
    traces, _ = json.JSONDecoder().raw_decode(html, call.end())
    return traces


def _values(field: list | dict) -> np.ndarray:
    """Array values of a trace field, whether plain JSON or plotly's base64 typed array."""
    if isinstance(field, dict):
        return np.frombuffer(base64.b64decode(field["bdata"]), dtype=np.dtype(field["dtype"]))
    return np.asarray(field)


def test_report_is_written_where_asked(report: tuple[Path, list[ModelEvaluation]]) -> None:
    path, _ = report
    assert path.is_file()
    assert path.name == "report.html"


def test_report_loads_no_external_resource(report: tuple[Path, list[ModelEvaluation]]) -> None:
    html = report[0].read_text(encoding="utf-8")

    assert re.search(r"<script[^>]*\ssrc=", html) is None
    assert re.search(r"<link[^>]*href=", html) is None
    assert re.search(r"<img[^>]*src=", html) is None
    assert "@import" not in html
    assert re.search(r"url\(\s*['\"]?https?:", html) is None
    # plotly.js itself is embedded, exactly once.
    assert html.count('<script type="text/javascript">') == 1
    assert len(html) > 3_000_000


def test_report_has_every_section_and_model(
    report: tuple[Path, list[ModelEvaluation]],
) -> None:
    html = report[0].read_text(encoding="utf-8")

    for heading in SECTION_HEADINGS:
        assert f"{heading}</h2>" in html
    for name in ("seed", "gbm"):
        assert f'<th class="num model-name">{name}</th>' in html
        assert f"{name} model for the test" in html
    assert "trained on invoices settled before 2024-01-01" in html
    assert "latepay 0.1.0" in html


def test_report_has_one_div_per_figure(report: tuple[Path, list[ModelEvaluation]]) -> None:
    html = report[0].read_text(encoding="utf-8")
    # Month + 2 segments (country is empty) + amounts; ROC, precision-recall, calibration,
    # score distribution and gains; then per model a confusion matrix and feature importance.
    expected = 1 + 2 + 1 + 5 + 2 * 2

    assert html.count('class="plotly-graph-div"') == expected


def test_roc_figure_carries_the_curve(report: tuple[Path, list[ModelEvaluation]]) -> None:
    path, evaluations = report
    html = path.read_text(encoding="utf-8")
    seed = evaluations[0]
    expected_fpr, expected_tpr, _ = roc_curve(seed.y_true, seed.p_late)

    traces = _figure_traces(html, "fig-roc")
    seed_trace = next(trace for trace in traces if trace["name"].startswith("seed"))

    assert [trace["name"].split(" ")[0] for trace in traces] == ["random", "seed", "gbm"]
    np.testing.assert_allclose(_values(seed_trace["x"]), expected_fpr)
    np.testing.assert_allclose(_values(seed_trace["y"]), expected_tpr)


def test_metric_table_highlights_the_better_model(
    report: tuple[Path, list[ModelEvaluation]],
) -> None:
    html = report[0].read_text(encoding="utf-8")
    # gbm's predictions carry less noise, so it ranks better: its ROC AUC cell is the best one.
    row = re.search(r"<td>ROC AUC</td>.*?</tr>", html, flags=re.DOTALL)
    assert row is not None
    cells = re.findall(r'<td class="num( best)?">([^<]*)</td>', row.group(0))

    assert [bool(best) for best, _ in cells] == [False, True]
    # Equal training times tie, so that row highlights nothing.
    time_row = re.search(r"<td>Training time</td>.*?</tr>", html, flags=re.DOTALL)
    assert time_row is not None
    assert " best" not in time_row.group(0)


def test_example_reasons_are_escaped_and_listed(
    report: tuple[Path, list[ModelEvaluation]],
) -> None:
    html = report[0].read_text(encoding="utf-8")

    assert "&lt;b&gt;dispute&lt;/b&gt; open" in html
    assert "<b>dispute</b>" not in html
    assert "<li>paid 6 of last 10 invoices late</li>" in html
    assert "<li>3 invoices open</li>" in html


def test_examples_are_listed_highest_risk_first(
    report: tuple[Path, list[ModelEvaluation]],
) -> None:
    html = report[0].read_text(encoding="utf-8")
    seed_examples = html[html.index("4. Example invoices") :]

    positions = [seed_examples.index(invoice) for invoice in ("INV-0002", "INV-0003", "INV-0001")]
    assert positions == sorted(positions)


def test_duplicate_model_names_are_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y_true = (rng.uniform(size=50) < 0.3).astype(int)
    twins = [_evaluation(rng, "gbm", y_true, 0.1, "x"), _evaluation(rng, "gbm", y_true, 0.2, "y")]

    with pytest.raises(ValueError, match="unique"):
        write_report(tmp_path / "r.html", _overview(rng), twins)


def test_single_class_test_set_still_renders(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    on_time_only = np.zeros(60, dtype=int)
    evaluation = _evaluation(rng, "seed", on_time_only, noise=0.1, reasons="x")

    html = write_report(tmp_path / "r.html", _overview(rng), [evaluation]).read_text("utf-8")

    # No ROC curve can be drawn: only the diagonal remains, and the AUC cell shows a dash.
    assert [trace["name"] for trace in _figure_traces(html, "fig-roc")] == ["random"]
    assert re.search(r"<td>ROC AUC</td>.*?<td class=\"num\">—</td>", html, flags=re.DOTALL)
