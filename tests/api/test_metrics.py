"""/metrics: a new report or champion replaces the last one's series, in one server process
and across the processes of ``latepay serve --workers N``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

from latepay.api.metrics import SHARED_FOLDER_VARIABLE, ApiMetrics


def drift_rows(**psi: float) -> list[SimpleNamespace]:
    return [SimpleNamespace(feature=f, kind="numeric", psi=v) for f, v in psi.items()]


def series(text: str, name: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.startswith(name + "{"))


def test_a_new_report_or_champion_replaces_the_last_ones_series() -> None:
    metrics = ApiMetrics()
    metrics.drift(drift_rows(amount=0.4, terms=0.1))
    metrics.serving("gbm-1")
    metrics.drift(drift_rows(amount=0.2))
    metrics.serving("gbm-2")
    text = metrics.render().decode()
    assert series(text, "latepay_drift_psi") == [
        'latepay_drift_psi{feature="amount",kind="numeric"} 0.2'
    ]
    assert series(text, "latepay_champion_info") == ['latepay_champion_info{version="gbm-2"} 1.0']
    assert "NaN" not in text
    metrics.serving(None)
    assert series(metrics.render().decode(), "latepay_champion_info") == []


def run_process(folder, code: str) -> str:
    """Run ``code`` in a new process sharing the metrics folder; return what it printed."""
    program = textwrap.dedent(
        """
        from types import SimpleNamespace
        from latepay.api.metrics import ApiMetrics
        metrics = ApiMetrics()
        """
    ) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, SHARED_FOLDER_VARIABLE: str(folder)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_server_processes_publish_one_set_of_metrics(tmp_path) -> None:
    row = "SimpleNamespace(feature={!r}, kind='numeric', psi={})"
    run_process(
        tmp_path,
        f"""
        metrics.requests.labels("POST", "/v1/invoices", "201").inc(3)
        metrics.scores.labels("high").inc(3)
        metrics.drift([{row.format("amount", 0.4)}, {row.format("terms", 0.1)}])
        metrics.serving("gbm-1")
        """,
    )
    # A second process, later: it publishes the newer report and champion.
    run_process(
        tmp_path,
        f"""
        metrics.requests.labels("POST", "/v1/invoices", "201").inc(2)
        metrics.drift([{row.format("amount", 0.2)}])
        metrics.serving("gbm-2")
        """,
    )
    # Whichever process answers a scrape shows them all.
    text = run_process(tmp_path, "print(metrics.render().decode())")
    assert series(text, "latepay_http_requests_total") == [
        'latepay_http_requests_total{method="POST",route="/v1/invoices",status="201"} 5.0'
    ]
    assert series(text, "latepay_scores_total") == ['latepay_scores_total{risk_tier="high"} 3.0']
    assert series(text, "latepay_drift_psi") == [
        'latepay_drift_psi{feature="amount",kind="numeric"} 0.2'
    ]
    assert series(text, "latepay_champion_info") == ['latepay_champion_info{version="gbm-2"} 1.0']
    assert "NaN" not in text
