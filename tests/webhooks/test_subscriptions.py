import pytest
from sqlalchemy import Engine
from tests.webhooks.conftest import deliveries, enqueue, scored_frame

from latepay.errors import InputError, NotFoundError
from latepay.webhooks import (
    EVENT_TYPES,
    TIER_CHANGED,
    list_subscriptions,
    subscribe,
    unsubscribe,
)


def test_subscribe_generates_a_secret_and_defaults_to_every_event(engine: Engine) -> None:
    created = subscribe(engine, "https://crm.example.com/hooks/latepay")
    assert created.events == EVENT_TYPES
    assert created.created_at.tzinfo is not None
    assert created.secret is not None and len(created.secret) >= 40
    assert subscribe(engine, "https://crm.example.com/other").secret != created.secret


def test_listing_shows_active_subscriptions_without_secrets(engine: Engine) -> None:
    first = subscribe(engine, "https://crm.example.com/a", secret="s" * 32)
    second = subscribe(engine, "http://billing.internal:8080/b", events=[TIER_CHANGED])
    listed = list_subscriptions(engine)
    assert listed[0].created_at == first.created_at
    assert [(s.id, s.url, s.events, s.secret) for s in listed] == [
        (first.id, "https://crm.example.com/a", EVENT_TYPES, None),
        (second.id, "http://billing.internal:8080/b", (TIER_CHANGED,), None),
    ]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://crm.example.com/hooks",
        "crm.example.com/hooks",
        "https://",
        "https:///path-only",
        "https://crm example.com/hooks",
        "https://crm.example.com:port/hooks",
        "",
    ],
)
def test_urls_other_than_http_with_a_host_are_refused(sqlite_engine: Engine, url: str) -> None:
    with pytest.raises(InputError, match="webhook url must be an absolute http"):
        subscribe(sqlite_engine, url)
    assert list_subscriptions(sqlite_engine) == []


def test_unknown_events_and_weak_secrets_are_refused(sqlite_engine: Engine) -> None:
    url = "https://crm.example.com/hooks"
    with pytest.raises(InputError, match=r"one or more of invoice\.high_risk.*got invoice\.paid"):
        subscribe(sqlite_engine, url, events=["invoice.paid"])
    with pytest.raises(InputError, match="got none"):
        subscribe(sqlite_engine, url, events=[])
    with pytest.raises(InputError, match="16 to 128 characters, got 6"):
        subscribe(sqlite_engine, url, secret="secret")


def test_unsubscribe_stops_sending_and_cancels_undelivered_events(engine: Engine) -> None:
    leaving = subscribe(engine, "https://crm.example.com/leaving")
    staying = subscribe(engine, "https://crm.example.com/staying")
    enqueue(engine, scored_frame([("I1", "critical", 0.9)]))

    unsubscribe(engine, leaving.id)

    assert [s.id for s in list_subscriptions(engine)] == [staying.id]
    status = {row.subscription_id: row.status for row in deliveries(engine)}
    assert status == {leaving.id: "cancelled", staying.id: "pending"}
    assert enqueue(engine, scored_frame([("I2", "high", 0.6)])) == 1


def test_unsubscribing_an_unknown_or_removed_subscription_is_not_found(engine: Engine) -> None:
    created = subscribe(engine, "https://crm.example.com/hooks")
    unsubscribe(engine, created.id)
    for subscription_id in (created.id, 999):
        with pytest.raises(
            NotFoundError, match=f"no active webhook subscription with id {subscription_id}"
        ):
            unsubscribe(engine, subscription_id)
