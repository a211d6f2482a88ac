"""The worklist and customer segments on a small hand-made ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.actions.conftest import add_customer, add_invoice

from latepay.actions.segments import customer_segments, strategy_of
from latepay.actions.worklist import build_worklist, priority
from latepay.config import Settings
from latepay.db.tables import Dispute, Outcome, Prediction
from latepay.errors import InputError

AS_OF = dt.date(2024, 6, 10)
SETTINGS = Settings()


def days(n: int) -> dt.date:
    return AS_OF + dt.timedelta(days=n)


def score(
    engine: Engine,
    invoice_id: str,
    p_late: float,
    *,
    tier: str,
    days_late: float = 0.0,
    on: dt.date = AS_OF,
    reason: str = "Paid 6 of the last 10 invoices late.",
) -> None:
    moment = dt.datetime.combine(on, dt.time(), tzinfo=dt.UTC)
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
                reasons={"reasons": [{"feature": "f", "contribution": 0.1, "sentence": reason}]},
            )
        )


def promise(
    engine: Engine, invoice_id: str, promised: dt.date, *, recorded_on: dt.date | None = None
) -> None:
    """Record a promise to pay, by default 3 days before AS_OF."""
    recorded = dt.datetime.combine(recorded_on or days(-3), dt.time(), tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Outcome).values(
                invoice_id=invoice_id,
                kind="promise_to_pay",
                promised_date=promised,
                recorded_at=recorded,
            )
        )


def dispute(engine: Engine, invoice_id: str, customer_id: str, resolved: dt.date | None) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Dispute).values(
                dispute_id=f"D-{invoice_id}",
                invoice_id=invoice_id,
                customer_id=customer_id,
                opened_date=days(-10),
                resolved_date=resolved,
                row_hash="x",
            )
        )


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    """Open invoices on AS_OF and their priorities (amount x P(late) x (1 + days / 30)):

    A1 16000 (critical), C1 2100 x 1.5 = 3150 (broken promise), B1 3000, A2 1000, D2 200
    (its dispute was resolved); B2 is promised, D1 disputed, E1 never scored.
    """
    for customer_id in "ABCDE":
        add_customer(engine, customer_id)
    add_invoice(engine, "A1", "A", due=days(-5), amount=10_000)
    add_invoice(engine, "A2", "A", due=days(5), amount=2_000)
    add_invoice(engine, "B1", "B", due=days(-1), amount=5_000)
    add_invoice(engine, "B2", "B", due=days(2), amount=4_000)
    add_invoice(engine, "C1", "C", due=days(-8), amount=3_000)
    add_invoice(engine, "D1", "D", due=days(-20), amount=6_000)
    add_invoice(engine, "D2", "D", due=days(10), amount=1_000)
    add_invoice(engine, "E1", "E", due=days(10), amount=500)
    # Not open on AS_OF: a credit note, a settled invoice, an invoice issued later.
    add_invoice(engine, "E2", "E", due=days(10), amount=-100, credit_note=True)
    add_invoice(engine, "E3", "E", due=days(-5), amount=900, settled=days(-1))
    add_invoice(engine, "E4", "E", due=days(40), amount=900)
    # History: A paid both settled invoices late, B one of two, D one of two.
    add_invoice(engine, "HA1", "A", due=days(-90), settled=days(-80))
    add_invoice(engine, "HA2", "A", due=days(-60), settled=days(-50))
    add_invoice(engine, "HB1", "B", due=days(-90), settled=days(-95))
    add_invoice(engine, "HB2", "B", due=days(-60), settled=days(-40))
    add_invoice(engine, "HD1", "D", due=days(-90), settled=days(-90))
    add_invoice(engine, "HD2", "D", due=days(-60), settled=days(-55))

    score(ledger_engine := engine, "A1", 0.1, tier="low", on=days(-20))  # superseded
    score(ledger_engine, "A1", 0.8, tier="critical", days_late=30, reason="A1 is large.")
    score(ledger_engine, "A2", 0.5, tier="high")
    score(ledger_engine, "B1", 0.4, tier="medium", days_late=15)
    score(ledger_engine, "B1", 0.01, tier="low", on=days(1))  # made after AS_OF: ignored
    score(ledger_engine, "B2", 0.5, tier="high")
    score(ledger_engine, "C1", 0.7, tier="high")
    score(ledger_engine, "D1", 0.9, tier="critical", days_late=10)
    score(ledger_engine, "D2", 0.2, tier="low")
    promise(engine, "B2", days(3))
    promise(engine, "C1", days(-2))  # the date passed, C1 still open: broken
    dispute(engine, "D1", "D", resolved=None)
    dispute(engine, "D2", "D", resolved=days(-1))
    return engine


def test_invoices_are_ranked_by_weighted_expected_late_amount(ledger: Engine) -> None:
    worklist = build_worklist(ledger, as_of=AS_OF, settings=SETTINGS)
    assert [item.invoice_id for item in worklist.to_work] == ["A1", "C1", "B1", "A2", "D2"]
    assert [item.rank for item in worklist.to_work] == [1, 2, 3, 4, 5]
    assert [round(item.priority) for item in worklist.to_work] == [16000, 3150, 3000, 1000, 200]
    first = worklist.to_work[0]
    assert first.p_late == 0.8  # the newest prediction, not the older one
    assert first.reasons == ("A1 is large.",)
    assert first.days_past_due == 5
    assert (first.action, first.action_date) == ("escalate_now", AS_OF)
    by_id = {item.invoice_id: item for item in worklist.to_work}
    # Before the due date: the next reminder day of the customer segment's schedule. A is
    # critical (risk score (0.75 + 1.0) / 2): its -3 step, days(2); its -10 step has passed.
    assert by_id["A2"].segment == "critical"
    assert (by_id["A2"].action, by_id["A2"].action_date) == ("call_before_due", days(2))
    # D is at-risk ((0.8 + 0.5) / 2): its -7 step, days(3).
    assert by_id["D2"].segment == "at-risk"
    assert by_id["D2"].action_date == days(3)
    assert by_id["B1"].p_late == 0.4  # the score made after AS_OF does not count
    # Past the due date the action is about getting paid, not about reminding.
    assert (by_id["B1"].action, by_id["B1"].action_date) == ("overdue_reminder", AS_OF)
    assert (worklist.open_invoices, worklist.to_work_total) == (8, 5)
    assert (worklist.unscored, worklist.unscored_amount) == (1, 500.0)

    top_two = build_worklist(ledger, as_of=AS_OF, settings=SETTINGS, limit=2)
    assert [item.invoice_id for item in top_two.to_work] == ["A1", "C1"]
    assert top_two.to_work_total == 5


def test_promises_and_disputes_are_listed_apart(ledger: Engine) -> None:
    worklist = build_worklist(ledger, as_of=AS_OF, settings=SETTINGS)
    assert [(i.invoice_id, i.promised_date, i.action_date) for i in worklist.promised] == [
        ("B2", days(3), days(3))
    ]
    assert [(i.invoice_id, i.dispute_id) for i in worklist.disputed] == [("D1", "D-D1")]
    broken = [item for item in worklist.to_work if item.broken_promise]
    assert [(i.invoice_id, i.action) for i in broken] == [("C1", "call_broken_promise")]
    assert broken[0].priority == pytest.approx(priority(3_000, 0.7, 0) * 1.5)


def test_a_new_promise_replaces_the_broken_one(ledger: Engine) -> None:
    promise(ledger, "C1", days(5), recorded_on=AS_OF)
    worklist = build_worklist(ledger, as_of=AS_OF, settings=SETTINGS)
    assert [item.invoice_id for item in worklist.promised] == ["B2", "C1"]
    assert not any(item.broken_promise for item in worklist.to_work)
    # A promise recorded after the day of the list is not known on that day.
    promise(ledger, "A1", days(9), recorded_on=days(1))
    assert "A1" in {
        item.invoice_id for item in build_worklist(ledger, as_of=AS_OF, settings=SETTINGS).to_work
    }


def test_collectors_get_balanced_work_whole_customers_each(ledger: Engine) -> None:
    worklist = build_worklist(ledger, as_of=AS_OF, settings=SETTINGS, collectors=["ana", "ben"])
    collector_of: dict[str, set[str]] = {}
    for item in worklist.items():
        collector_of.setdefault(item.customer_id, set()).add(item.collector)
    # Expected late amounts: A 9000, D 5600, B 4000, C 2100; largest first to the least loaded.
    assert collector_of == {"A": {"ana"}, "D": {"ben"}, "B": {"ben"}, "C": {"ana"}}
    assert worklist.collector_loads == pytest.approx({"ana": 11_100, "ben": 9_600})

    with pytest.raises(InputError, match="repeated: ana"):
        build_worklist(ledger, as_of=AS_OF, settings=SETTINGS, collectors=["ana", "ana"])


def test_items_carry_their_customers_segment_and_strategy(ledger: Engine) -> None:
    worklist = build_worklist(ledger, as_of=AS_OF, settings=SETTINGS)
    segments = worklist.segments.set_index("customer_id")
    # A: P(late) 0.75 weighted, late share 1.0 -> 0.875; B: 0.444 and 0.5; C: 0.7 and no
    # history; D: 0.8 and 0.5; E: never scored, but E3 was settled late.
    assert segments["risk_score"].round(3).to_dict() == {
        "A": 0.875,
        "B": 0.472,
        "C": 0.7,
        "D": 0.65,
        "E": 1.0,
    }
    assert segments["segment"].to_dict() == {
        "A": "critical",
        "B": "watch",
        "C": "at-risk",
        "D": "at-risk",
        "E": "critical",
    }
    # Open balances 12000, 9000, 3000, 7000, 500: the median is 7000, so A and B are high value.
    assert segments["strategy"].to_dict() == {
        "A": "escalate",
        "B": "low-hanging fruit",
        "C": "automate",
        "D": "automate",
        "E": "escalate",
    }
    by_id = {item.invoice_id: item for item in worklist.items()}
    assert (by_id["B2"].segment, by_id["B2"].strategy) == ("watch", "low-hanging fruit")


@pytest.mark.parametrize(
    ("segment", "high_value", "strategy"),
    [
        ("reliable", True, "protect the relationship"),
        ("reliable", False, "automate"),
        ("watch", True, "low-hanging fruit"),
        ("at-risk", True, "low-hanging fruit"),
        ("at-risk", False, "automate"),
        ("critical", True, "escalate"),
        ("critical", False, "escalate"),
    ],
)
def test_strategy_by_segment_and_value(segment: str, high_value: bool, strategy: str) -> None:
    assert strategy_of(segment, high_value) == strategy


def test_segment_cutoffs_come_from_settings() -> None:
    open_invoices = pd.DataFrame(
        {"customer_id": ["X", "Y"], "amount": [100.0, 300.0], "p_late": [0.3, 0.3]}
    )
    history = pd.DataFrame({"customer_id": [], "settled": [], "paid_late": []})
    default = customer_segments(open_invoices, history, cutoffs=(0.25, 0.5, 0.75))
    strict = customer_segments(open_invoices, history, cutoffs=(0.1, 0.2, 0.3))
    assert default["segment"].tolist() == ["watch", "watch"]
    assert strict["segment"].tolist() == ["critical", "critical"]
    assert strict["strategy"].tolist() == ["escalate", "escalate"]
    with pytest.raises(ValueError, match="segment_cutoffs must be three increasing"):
        Settings(segment_cutoffs=(0.5, 0.4, 0.9))
