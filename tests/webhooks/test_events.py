import datetime as dt

import sqlalchemy as sa
from sqlalchemy import Engine
from tests.webhooks.conftest import deliveries, enqueue, scored_frame

from latepay.db.tables import Customer, Invoice, Prediction
from latepay.webhooks import (
    HIGH_RISK,
    TIER_CHANGED,
    enqueue_score_events,
    previous_tiers,
    subscribe,
    unsubscribe,
)

SCORED = scored_frame(
    [
        ("I1", "high", 0.6),  # first score, high: high_risk
        ("I2", "low", 0.1),  # was medium: tier_changed
        ("I3", "medium", 0.4),  # was medium: nothing
        ("I4", "critical", 0.9),  # was high: tier_changed (already high risk)
        ("I5", "low", 0.2),  # first score, low: nothing
        ("I6", "high", 0.7),  # was medium: high_risk and tier_changed
        ("I7", "high", 0.7),  # was high: nothing (re-scored, still high)
    ]
)
PREVIOUS = {"I2": "medium", "I3": "medium", "I4": "high", "I6": "medium", "I7": "high"}


def test_without_subscribers_nothing_is_written(engine: Engine) -> None:
    assert enqueue(engine, SCORED, PREVIOUS) == 0
    gone = subscribe(engine, "https://crm.example.com/hooks")
    unsubscribe(engine, gone.id)
    assert enqueue(engine, SCORED, PREVIOUS) == 0
    assert deliveries(engine) == []


def test_without_subscribers_scoring_pays_one_small_query(engine: Engine) -> None:
    statements = []

    def count(connection, cursor, statement, *args) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert enqueue(engine, SCORED, PREVIOUS) == 0
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1 and "FROM webhook_subscriptions" in statements[0]


def test_events_go_to_each_active_subscriber_of_their_type(engine: Engine) -> None:
    everything = subscribe(engine, "https://crm.example.com/all").id
    changes = subscribe(engine, "https://crm.example.com/changes", events=[TIER_CHANGED]).id
    risky = subscribe(engine, "https://billing.example.com/risky", events=[HIGH_RISK]).id
    unsubscribe(engine, risky)

    assert enqueue(engine, SCORED, PREVIOUS) == 8

    written = {
        (row.subscription_id, row.event_type, row.payload["data"]["invoice_id"])
        for row in deliveries(engine)
    }
    assert written == {
        (everything, HIGH_RISK, "I1"),
        (everything, TIER_CHANGED, "I2"),
        (changes, TIER_CHANGED, "I2"),
        (everything, TIER_CHANGED, "I4"),
        (changes, TIER_CHANGED, "I4"),
        (everything, HIGH_RISK, "I6"),
        (everything, TIER_CHANGED, "I6"),
        (changes, TIER_CHANGED, "I6"),
    }
    assert all(row.status == "pending" and row.attempts == 0 for row in deliveries(engine))


def test_an_event_has_one_id_and_payload_for_all_its_subscribers(engine: Engine) -> None:
    subscribe(engine, "https://crm.example.com/a")
    subscribe(engine, "https://crm.example.com/b")
    enqueue(engine, SCORED[SCORED["invoice_id"] == "I6"], PREVIOUS)

    rows = deliveries(engine)
    changed = [row for row in rows if row.event_type == TIER_CHANGED]
    assert len(changed) == 2 and changed[0].payload == changed[1].payload
    assert changed[0].event_id == changed[0].payload["id"]
    assert len({row.event_id for row in rows}) == 2  # high_risk and tier_changed
    payload = changed[0].payload
    created_at = dt.datetime.fromisoformat(payload["created_at"])
    assert created_at.tzinfo is not None
    assert payload["type"] == TIER_CHANGED
    assert payload["data"] == {
        "invoice_id": "I6",
        "p_late": 0.7,
        "risk_tier": "high",
        "previous_tier": "medium",
        "expected_days_late": 8.75,
        "model_version": "gbm-2026-01-01",
        "reasons": ["paid 6 of 10 earlier invoices late"],
    }


def test_customer_id_comes_from_the_frame_or_else_from_the_invoice(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(Customer), [{"customer_id": "C7", "row_hash": "h"}])
        connection.execute(
            sa.insert(Invoice),
            [
                {
                    "invoice_id": "I1",
                    "customer_id": "C7",
                    "issue_date": dt.date(2026, 1, 5),
                    "due_date": dt.date(2026, 2, 4),
                    "amount": 120.0,
                    "row_hash": "h",
                }
            ],
        )
    subscribe(engine, "https://crm.example.com/hooks", events=[HIGH_RISK])
    enqueue(engine, scored_frame([("I1", "high", 0.6), ("I9", "high", 0.6)]))
    from_frame = scored_frame([("I1", "high", 0.6), ("I1", "high", 0.7)])
    enqueue(engine, from_frame.assign(customer_id=["C-from-frame", None]))

    customers = [row.payload["data"].get("customer_id") for row in deliveries(engine)]
    assert customers == ["C7", None, "C-from-frame", "C7"]


def test_events_roll_back_with_the_scoring_transaction(engine: Engine) -> None:
    subscribe(engine, "https://crm.example.com/hooks")
    with engine.connect() as connection:
        transaction = connection.begin()
        assert enqueue_score_events(connection, SCORED, PREVIOUS) > 0
        transaction.rollback()
    assert deliveries(engine) == []


def test_previous_tiers_are_those_of_each_invoices_latest_prediction(engine: Engine) -> None:
    day = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def prediction(invoice_id: str, tier: str, scored_at: dt.datetime) -> dict:
        return {
            "invoice_id": invoice_id,
            "model_version": "v1",
            "as_of": day,
            "scored_at": scored_at,
            "inputs_hash": "0" * 16,
            "p_late": 0.5,
            "bucket_probabilities": {},
            "expected_days_late": 0.0,
            "risk_tier": tier,
        }

    with engine.begin() as connection:
        connection.execute(
            sa.insert(Prediction),
            [
                prediction("I1", "critical", day + dt.timedelta(days=2)),
                prediction("I1", "low", day),
                prediction("I2", "low", day),
                prediction("I2", "high", day),  # same moment: the later row wins
                prediction("I3", "medium", day),
            ],
        )
        assert previous_tiers(connection, ["I1", "I2", "I4", "I1"]) == {
            "I1": "critical",
            "I2": "high",
        }
        assert previous_tiers(connection, []) == {}
