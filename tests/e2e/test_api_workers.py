"""``latepay serve --workers 2``: two processes, each with its own ledger snapshot, give the
backtest's answers, and each the answers the other gave."""

from __future__ import annotations

import httpx
import pytest
from tests.e2e.conftest import Served, running_server
from tests.e2e.test_api import copies_of

from latepay.features import load_ledger
from latepay.models.registry import ModelRegistry
from latepay.scoring import score_invoices


def total(metrics: str, series: str) -> float:
    """The sum of the samples in ``metrics`` whose line starts with ``series``."""
    return sum(
        float(line.rpartition(" ")[2]) for line in metrics.splitlines() if line.startswith(series)
    )


def test_two_worker_processes_answer_as_the_backtest_and_as_each_other(served: Served) -> None:
    ledger = load_ledger(served.engine)
    invoices = ledger.invoices[
        ~ledger.invoices["is_credit_note"] & (ledger.invoices["issue_date"] >= "2023-09-01")
    ]
    # One invoice per customer: a copy posted earlier is history the backtest does not have.
    originals = invoices.drop_duplicates("customer_id").sample(12, random_state=5)
    model = ModelRegistry(served.folder / "models", served.engine).load_champion()
    backtest = score_invoices(model, ledger, originals).set_index("invoice_id")
    posts = copies_of(originals, "WORKERS-")

    with running_server(
        served.database_url, served.folder, served.env, "--workers", "2", log_name="workers.log"
    ) as base_url:
        headers = {"Authorization": f"Bearer {served.keys['billing']}"}
        first, again = [], []
        # A new connection per request, so the kernel spreads them over both processes.
        for answers in (first, again):
            for post in posts:
                answer = httpx.post(f"{base_url}/v1/invoices", json=post, headers=headers)
                answers.append(answer)
        health = httpx.get(f"{base_url}/healthz").json()
        # Whichever process answers, /metrics counts the requests both processes answered.
        scrapes = [httpx.get(f"{base_url}/metrics", headers=headers).text for _ in range(6)]
    assert health["status"] == "ok"
    posted = [
        total(text, 'latepay_http_requests_total{method="POST",route="/v1/invoices"')
        for text in scrapes
    ]
    assert posted == [2 * len(posts)] * len(scrapes)
    scored = [total(text, "latepay_scores_total{") for text in scrapes]
    assert scored == [len(posts)] * len(scrapes)  # the repeats were not scored again
    for text in scrapes:
        champion = [line for line in text.splitlines() if line.startswith("latepay_champion")]
        assert champion == [f'latepay_champion_info{{version="{model.version_}"}} 1.0']
    for answer, repeated in zip(first, again, strict=True):
        assert answer.status_code == 201, answer.text
        assert repeated.status_code == 200, repeated.text
        body = answer.json()
        assert {k: v for k, v in repeated.json().items() if k != "created"} == {
            k: v for k, v in body.items() if k != "created"
        }
        original = backtest.loc[body["invoice_id"].removeprefix("WORKERS-")]
        assert body["p_late"] == pytest.approx(original["p_late"], abs=1e-12)
        assert [r["feature"] for r in body["reasons"]] == [
            r["feature"] for r in original["reasons"]
        ]
    log = (served.folder / "workers.log").read_text()
    assert log.count("Application startup complete") == 2, log
