"""Live performance over real HTTP: invoices scored at issuance, paid, then measured.

The served database holds the sample (imported, so never scored at issuance) and a champion.
Invoices posted through ``POST /v1/invoices`` are scored as of their issue dates; payments
posted through ``POST /v1/payments`` settle them, on time or late. The report must then
measure exactly those invoices, with the numbers sklearn gives for the scores the API answered
and the outcomes the test chose.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score
from tests.e2e.conftest import Served

from latepay.features import load_ledger

pytestmark = pytest.mark.slow

INVOICES = 36
FIRST_ISSUE = dt.date(2023, 3, 1)
TERMS_DAYS = 30


def _post_scored_and_paid(served: Served) -> tuple[dict[str, float], dict[str, int]]:
    """Post invoices, pay every third one 20 days late and the others early; return the
    scores the API answered and the outcomes (1 = late)."""
    issued = {f"PERF-{n:03d}": FIRST_ISSUE + dt.timedelta(days=7 * n) for n in range(INVOICES)}
    invoices = [
        {
            "invoice_id": invoice_id,
            "customer_id": f"C{1 + n % 12:06d}",
            "issue_date": day.isoformat(),
            "payment_terms_days": TERMS_DAYS,
            "amount": 1000.0 + 10 * n,
            "currency": "EUR",
            "features": {"po_number_required": n % 2},
        }
        for n, (invoice_id, day) in enumerate(issued.items())
    ]
    late = {invoice_id: int(n % 3 == 0) for n, invoice_id in enumerate(issued)}
    payments = [
        {
            "invoice_id": invoice["invoice_id"],
            "paid_date": (
                issued[invoice["invoice_id"]]
                + dt.timedelta(days=TERMS_DAYS + 20 if late[invoice["invoice_id"]] else 10)
            ).isoformat(),
            "amount": invoice["amount"],
        }
        for invoice in invoices
    ]
    with served.client("billing") as client:
        answer = client.post("/v1/invoices", json=invoices)
        assert answer.status_code == 201, answer.text
        assert client.post("/v1/payments", json=payments).status_code == 201
    scores = {score["invoice_id"]: score["p_late"] for score in answer.json()["results"]}
    return scores, late


def test_performance_measures_the_scores_given_at_issuance(served: Served) -> None:
    as_of = load_ledger(served.engine).as_of.date()
    scores, late = _post_scored_and_paid(served)
    # Issued five days before the ledger's as-of day and unpaid: not due, so not matured.
    with served.client("billing") as client:
        open_invoice = {
            "invoice_id": "PERF-OPEN",
            "customer_id": "C000001",
            "issue_date": (as_of - dt.timedelta(days=5)).isoformat(),
            "payment_terms_days": TERMS_DAYS,
            "amount": 500.0,
            "currency": "EUR",
            "features": {"po_number_required": 0},
        }
        assert client.post("/v1/invoices", json=open_invoice).status_code == 201

    with served.client("viewer") as client:
        report = client.get("/v1/models/performance").json()
        since = client.get("/v1/models/performance", params={"since": "2023-07-01"}).json()
        # Published by the report without ``since`` only: the gauge means the whole history.
        metrics = client.get("/metrics").text

    ids = sorted(scores)
    y = np.array([late[i] for i in ids])
    p = np.array([scores[i] for i in ids])
    overall = report["overall"]
    assert report["as_of"] == as_of.isoformat()
    assert (report["matured"], report["not_matured"]) == (INVOICES, 1)
    assert report["matured_unscored"] > 0  # the imported sample: never scored at issuance
    assert (overall["invoices"], overall["late"]) == (INVOICES, int(y.sum()))
    assert overall["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert overall["brier"] == pytest.approx(brier_score_loss(y, p))
    assert sum(row["invoices"] for row in overall["calibration"]) == INVOICES
    versions = [group["group"] for group in report["by_model_version"]]
    with served.client("viewer") as client:
        assert versions == [client.get("/healthz").json()["model_version"]]
    months = {group["group"]: group["invoices"] for group in report["by_month"]}
    assert sum(months.values()) == INVOICES
    assert months["2023-03"] == 5  # issued on 1, 8, 15, 22 and 29 March
    assert sum(group["invoices"] for group in report["by_segment"]) == INVOICES

    kept = [
        i for i in ids if FIRST_ISSUE + dt.timedelta(days=7 * int(i[-3:])) >= dt.date(2023, 7, 1)
    ]
    assert since["matured"] == len(kept)
    assert since["since"] == "2023-07-01"
    assert f'latepay_live_roc_auc{{model_version="all"}} {overall["roc_auc"]}' in metrics


def test_performance_needs_a_key_and_the_cli_reports_the_same(served: Served) -> None:
    with served.client(role=None) as client:
        assert client.get("/v1/models/performance").status_code == 401
    with served.client("viewer") as client:
        answer = client.get("/v1/models/performance")
    assert answer.status_code == 200

    printed = json.loads(served.latepay("--json", "performance").stdout)
    assert printed["overall"] == answer.json()["overall"]
    table = served.latepay("performance", "--since", "2023-01-01").stdout
    assert "ROC AUC" in table and "Calibration, all" in table
