"""Early-payment discounts: who is offered one and the expected gain, computed by hand."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.actions.conftest import add_customer, add_invoice
from tests.e2e.test_cli import LATEPAY

from latepay.actions.incentives import expected_gain, incentive_offers
from latepay.config import Settings
from latepay.db.tables import Outcome, Prediction, Reminder

AS_OF = dt.date(2024, 6, 15)
SETTINGS = Settings(discount_rate=0.01, cost_of_capital=0.10, response_days=7)


def day(n: int) -> dt.date:
    return dt.date(2024, 6, n)


def score(engine: Engine, invoice_id: str, p_late: float, days_late: float, tier: str) -> None:
    moment = dt.datetime.combine(day(1), dt.time(), tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Prediction).values(
                invoice_id=invoice_id,
                model_version="test",
                as_of=moment,
                scored_at=moment,
                inputs_hash="x",
                p_late=p_late,
                bucket_probabilities={},
                expected_days_late=days_late,
                risk_tier=tier,
            )
        )


def reminded(engine: Engine, customer_id: str, invoice_ids: list[str], on: dt.date) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Reminder).values(
                idempotency_key=f"mail:{customer_id}:{on}:{'-'.join(invoice_ids)}",
                customer_id=customer_id,
                invoice_ids={"invoice_ids": invoice_ids},
                kind="statement",
                channel="email",
                template="overdue_notice",
                scheduled_for=on,
                status="sent",
                attempts=1,
            )
        )


@pytest.fixture
def ledger(sqlite_engine: Engine) -> Engine:
    """C1 answered 1 of 2 decided reminders, C3 its one contact, C2 was never touched.

    Open and predicted late on AS_OF: A (C1, worth it), B (C1, too short a delay),
    D (C3, worth it), E (C2, never answered), F (C1, already due), G (C1, low risk).
    """
    engine = sqlite_engine
    for customer_id in ("C1", "C2", "C3"):
        add_customer(engine, customer_id)
    add_invoice(engine, "H1", "C1", due=day(1), settled=day(5))  # paid 4 days after
    add_invoice(engine, "H2", "C1", due=day(1), settled=day(20))  # not within 7 days
    add_invoice(engine, "H4", "C1", due=day(10))  # reminded on the 12th: window still open
    reminded(engine, "C1", ["H1", "H2"], day(1))
    reminded(engine, "C1", ["H4"], day(12))
    add_invoice(engine, "H3", "C3", due=day(1), settled=day(6))
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Outcome).values(
                invoice_id="H3",
                kind="contact",
                contact_result="reached",
                recorded_at=dt.datetime(2024, 6, 3, 15, tzinfo=dt.UTC),
            )
        )
    for invoice_id, customer_id, amount, p, days_late, tier in (
        ("A", "C1", 10_000, 0.8, 40.0, "critical"),
        ("B", "C1", 10_000, 0.8, 20.0, "high"),
        ("D", "C3", 2_000, 0.6, 60.0, "high"),
        ("E", "C2", 10_000, 0.9, 80.0, "critical"),
        ("G", "C1", 10_000, 0.2, 80.0, "low"),
    ):
        add_invoice(engine, invoice_id, customer_id, due=day(30), amount=amount)
        score(engine, invoice_id, p, days_late, tier)
    add_invoice(engine, "F", "C1", due=day(10), amount=10_000)
    score(engine, "F", 0.9, 80.0, "critical")
    return engine


def test_the_gain_formula_by_hand() -> None:
    lift, days_saved, gain = expected_gain(
        amount=10_000,
        p_late=0.8,
        expected_days_late=40,
        p_take=0.5,
        discount_rate=0.01,
        cost_of_capital=0.10,
    )
    assert lift == pytest.approx(0.4)
    assert days_saved == pytest.approx(50)
    # 0.4 x 10000 x 0.10 / 365 x 50 - 0.01 x 10000 x 0.5 = 54.7945... - 50
    assert gain == pytest.approx(4.794520548)


def test_offers_go_to_predicted_late_invoices_of_customers_who_respond(ledger: Engine) -> None:
    offers = incentive_offers(ledger, as_of=AS_OF, settings=SETTINGS)
    assert [offer.invoice_id for offer in offers] == ["D", "A"]
    d, a = offers
    # D: rate 1/1, lift 0.6, 100 days saved: 0.6 x 2000 x 0.1 / 365 x 100 - 0.01 x 2000 x 1.
    assert (d.response_rate, d.trials, d.lift, d.days_saved) == (1.0, 1, 0.6, 100.0)
    assert d.expected_gain == pytest.approx(32.87671233 - 20)
    assert d.discount == 20.0
    # A: rate 1/2 (H1 answered, H2 not; H4's window is still open), as in the formula test.
    assert (a.response_rate, a.trials) == (0.5, 2)
    assert a.expected_gain == pytest.approx(4.794520548)


def test_a_later_day_counts_more_trials(ledger: Engine) -> None:
    # On the 20th H4's window (12th to 19th) has closed unanswered: C1 answered 1 of 3.
    offers = incentive_offers(ledger, as_of=day(20), settings=SETTINGS)
    a = next(offer for offer in offers if offer.invoice_id == "A")
    assert (a.response_rate, a.trials) == (pytest.approx(1 / 3), 3)
    assert a.expected_gain == pytest.approx(10_000 / 3 * (0.1 * 40 / 365 - 0.01))


def test_latepay_incentives_lists_the_offers(ledger: Engine, sqlite_url: str, tmp_path) -> None:
    result = subprocess.run(
        [LATEPAY, "--db", sqlite_url, "--json", "incentives", "--as-of", f"{AS_OF}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LATEPAY_DISCOUNT_RATE": "0.01", "LATEPAY_COST_OF_CAPITAL": "0.1"},
    )
    assert result.returncode == 0, result.stderr
    offers = json.loads(result.stdout)["offers"]
    assert [(o["invoice_id"], round(o["expected_gain"], 4)) for o in offers] == [
        ("D", round(32.87671233 - 20, 4)),
        ("A", round(4.794520548, 4)),
    ]
