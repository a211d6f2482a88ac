"""The cash-in forecast over real HTTP and the real ``latepay forecast`` command, on the scored
sample."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest
from tests.e2e.conftest import Served
from tests.e2e.test_cli import LATEPAY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored(served: Served) -> Served:
    """The served sample with its open invoices scored as of the ledger's day (2024-01-01)."""
    served.latepay("score", "--open", "--reasons", "0", "--output", "scores.csv")
    return served


def test_the_forecast_spreads_every_open_invoice_over_the_weeks(scored: Served) -> None:
    with scored.client("viewer") as client:
        answer = client.get("/v1/forecast", params={"weeks": 13})
        worklist = client.get("/v1/worklist", params={"limit": 1}).json()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["as_of"] == "2024-01-01" and body["weeks"] == 13
    assert body["unpredicted_invoices"] == 0  # `score --open` scored every open invoice
    assert "never added" in body["currency_handling"]
    currencies = [part["currency"] for part in body["currencies"]]
    assert currencies == sorted(currencies) and len(currencies) == len(set(currencies))
    # The same open invoices as the worklist of the day, split by currency.
    assert (
        sum(p["total"]["open_invoices"] for p in body["currencies"]) == (worklist["open_invoices"])
    )
    for part in body["currencies"]:
        total = part["total"]
        weeks = total["weeks"]
        assert [w["week"] for w in weeks] == list(range(1, 14))
        assert [dt.date.fromisoformat(w["start"]) for w in weeks] == [
            dt.date(2024, 1, 1) + dt.timedelta(days=7 * k) for k in range(13)
        ]
        for week in weeks:
            assert 0 <= week["p10"] <= week["p50"] <= week["p90"]
        # Every open balance is paid in one of the weeks or after them.
        paid = sum(w["expected"] for w in weeks) + total["after_horizon"]
        assert paid == pytest.approx(total["open_amount"])
        segments = part["segments"]
        assert set(segments) <= {"reliable", "watch", "at-risk", "critical", "unknown"}
        assert sum(s["open_amount"] for s in segments.values()) == pytest.approx(
            total["open_amount"]
        )
        reserve = part["reserve"]
        assert [row["segment"] for row in reserve["rows"]] == list(segments)
        assert reserve["total"]["expected_over_90"] <= reserve["total"]["expected_over_30"]
        assert 0 <= reserve["total"]["suggested_reserve"] <= reserve["total"]["expected_over_30"]
        assert reserve["method"].startswith("Suggested reserve =")


def test_the_forecast_refuses_bad_input_and_a_billing_key(scored: Served) -> None:
    with scored.client("viewer") as client:
        assert client.get("/v1/forecast", params={"weeks": 0}).status_code == 422
        bad = client.get("/v1/forecast", params={"as_of": "01/02/2024"})
    assert bad.status_code == 422
    assert bad.json()["detail"] == "as_of must be a date like 2024-06-01, got '01/02/2024'"
    with scored.client("billing") as client:
        assert client.get("/v1/forecast").status_code == 403
    with scored.client(None) as client:
        assert client.get("/v1/forecast").status_code == 401


def test_the_forecast_command_gives_the_api_answer(scored: Served) -> None:
    result = scored.latepay("--json", "forecast", "--weeks", "4", "--as-of", "2024-01-01")
    body = json.loads(result.stdout)
    with scored.client("viewer") as client:
        api = client.get("/v1/forecast", params={"weeks": 4, "as_of": "2024-01-01"}).json()
    assert body["as_of"] == api["as_of"] == "2024-01-01"
    # Seeded simulations: the command and the API give the same figures.
    for mine, theirs in zip(body["currencies"], api["currencies"], strict=True):
        assert mine["currency"] == theirs["currency"]
        for key in ("expected", "p10", "p50", "p90"):
            assert [w[key] for w in mine["total"]["weeks"]] == pytest.approx(
                [w[key] for w in theirs["total"]["weeks"]]
            )
        for key in ("expected_over_30", "expected_over_90", "suggested_reserve"):
            assert mine["reserve"]["total"][key] == pytest.approx(theirs["reserve"]["total"][key])
    shown = subprocess.run(
        [LATEPAY, "--db", scored.database_url, "forecast", "--weeks", "4"],
        env={**scored.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    first = body["currencies"][0]
    assert f"Cash-in {first['currency']} from 2024-01-01" in shown.stdout
    assert f"{first['total']['weeks'][0]['expected']:,.0f}" in shown.stdout
    assert "suggested reserve" in shown.stdout
    failed = subprocess.run(
        [LATEPAY, "--db", scored.database_url, "forecast", "--as-of", "2024-13-01"],
        env=scored.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert (
        failed.stderr.strip() == "error: --as-of must be a date like 2024-06-01, got '2024-13-01'"
    )
