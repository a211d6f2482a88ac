"""The worklist over real HTTP and the real ``latepay worklist`` command, on the scored sample."""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest
from tests.e2e.conftest import Served
from tests.e2e.test_cli import LATEPAY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored(served: Served) -> Served:
    """The served sample with its open invoices scored as of the ledger's day."""
    served.latepay("score", "--open", "--reasons", "1", "--output", "scores.csv")
    return served


def test_the_worklist_ranks_open_invoices_and_assigns_them(scored: Served) -> None:
    with scored.client("collector") as client:
        answer = client.get("/v1/worklist", params={"limit": 5, "collectors": "ana,ben"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["as_of"] == "2024-01-01"  # the day `score --open` scored as of
    assert body["to_work_total"] > 5
    assert body["unscored"] == 0
    items = body["to_work"]
    assert [item["rank"] for item in items] == [1, 2, 3, 4, 5]
    priorities = [item["priority"] for item in items]
    assert priorities == sorted(priorities, reverse=True)
    for item in items:
        expected = item["amount"] * item["p_late"] * (1 + item["expected_days_late"] / 30)
        assert item["priority"] == pytest.approx(expected)
        assert item["collector"] in {"ana", "ben"}
        assert item["reasons"] and item["action"] and item["segment"]
    assert set(body["collector_loads"]) == {"ana", "ben"}
    assert all(item["dispute_id"] for item in body["disputed"])


def test_the_worklist_refuses_a_bad_date_and_a_billing_key(scored: Served) -> None:
    with scored.client("viewer") as client:
        bad = client.get("/v1/worklist", params={"as_of": "01/02/2024"})
    assert bad.status_code == 422
    assert bad.json()["detail"] == "as_of must be a date like 2024-06-01, got '01/02/2024'"
    with scored.client("billing") as client:
        assert client.get("/v1/worklist").status_code == 403


def test_the_worklist_command_prints_json_and_writes_a_csv(scored: Served) -> None:
    output = scored.folder / "worklist.csv"
    result = scored.latepay(
        "--json", "worklist", "--as-of", "2024-01-01", "--limit", "3", "--output", str(output)
    )
    body = json.loads(result.stdout)
    with scored.client("viewer") as client:
        api = client.get("/v1/worklist", params={"as_of": "2024-01-01", "limit": 3}).json()
    assert [i["invoice_id"] for i in body["to_work"]] == [i["invoice_id"] for i in api["to_work"]]
    written = pd.read_csv(output)
    # The file holds every listed invoice: the shown ones and the promised and disputed.
    assert len(written) == 3 + len(body["promised"]) + len(body["disputed"])
    assert set(written["section"]) <= {"to_work", "promised", "disputed"}
    shown = subprocess.run(
        [LATEPAY, "--db", scored.database_url, "worklist", "--limit", "3"],
        env={**scored.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    table = shown.stdout
    assert body["to_work"][0]["invoice_id"] in table
    assert "to work (showing 3)" in table
