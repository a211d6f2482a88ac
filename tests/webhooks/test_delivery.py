import asyncio
import datetime as dt
import json
import socket

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.webhooks.conftest import (
    Receiver,
    as_utc,
    deliver,
    deliveries,
    enqueue,
    scored_frame,
)

from latepay.db.tables import WebhookDelivery
from latepay.webhooks import (
    HIGH_RISK,
    MAX_ATTEMPTS,
    DeliveryStats,
    deliver_due,
    subscribe,
    verify,
)
from latepay.webhooks.delivery import CLAIM_LEASE, FIRST_RETRY_SECONDS, RETRY_JITTER

SECRET = "shared-secret-of-the-crm-0123456789"
START = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.UTC)


def enqueue_one(engine: Engine, url: str) -> None:
    subscribe(engine, url, events=[HIGH_RISK], secret=SECRET)
    enqueue(engine, scored_frame([("I1", "critical", 0.9)]))


def test_a_due_event_is_posted_signed_and_marked_delivered(
    engine: Engine, receiver: Receiver
) -> None:
    enqueue_one(engine, receiver.url)

    assert deliver(engine, START) == DeliveryStats(claimed=1, delivered=1)

    [request] = receiver.requests
    [row] = deliveries(engine)
    headers = request.headers
    assert request.path == "/hooks/latepay"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Latepay-Event"] == HIGH_RISK
    assert headers["X-Latepay-Delivery"] == row.event_id
    assert verify(
        SECRET, headers["X-Latepay-Timestamp"], request.body, headers["X-Latepay-Signature"]
    )
    assert json.loads(request.body) == row.payload
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)
    assert as_utc(row.delivered_at) == START

    assert deliver(engine, START + dt.timedelta(hours=1)) == DeliveryStats()
    assert len(receiver.requests) == 1


def test_a_failed_delivery_is_retried_with_growing_backoff(
    engine: Engine, receiver: Receiver
) -> None:
    receiver.failures = 2
    enqueue_one(engine, receiver.url)

    assert deliver(engine, START) == DeliveryStats(claimed=1, retrying=1)
    [row] = deliveries(engine)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "HTTP 500: receiver is down"
    first_wait = as_utc(row.next_attempt_at) - START
    assert (
        FIRST_RETRY_SECONDS
        <= first_wait.total_seconds()
        <= FIRST_RETRY_SECONDS * (1 + RETRY_JITTER)
    )

    assert deliver(engine, START + first_wait / 2) == DeliveryStats()  # not due yet

    second = START + first_wait
    assert deliver(engine, second) == DeliveryStats(claimed=1, retrying=1)
    [row] = deliveries(engine)
    second_wait = as_utc(row.next_attempt_at) - second
    assert (
        2 * FIRST_RETRY_SECONDS
        <= second_wait.total_seconds()
        <= 2 * FIRST_RETRY_SECONDS * (1 + RETRY_JITTER)
    )

    assert deliver(engine, second + second_wait) == DeliveryStats(claimed=1, delivered=1)
    [row] = deliveries(engine)
    assert (row.status, row.attempts) == ("delivered", 3)
    assert row.last_error == "HTTP 500: receiver is down"  # why it took three attempts
    event_ids = {request.headers["X-Latepay-Delivery"] for request in receiver.requests}
    assert len(receiver.requests) == 3 and event_ids == {row.event_id}


def test_delivery_gives_up_after_the_maximum_number_of_attempts(
    engine: Engine, receiver: Receiver
) -> None:
    receiver.failures = MAX_ATTEMPTS + 1
    enqueue_one(engine, receiver.url)

    now = START
    for _ in range(MAX_ATTEMPTS - 1):
        assert deliver(engine, now) == DeliveryStats(claimed=1, retrying=1)
        now += dt.timedelta(hours=2)  # past any backoff
    assert deliver(engine, now) == DeliveryStats(claimed=1, failed=1)

    [row] = deliveries(engine)
    assert (row.status, row.attempts, row.delivered_at) == ("failed", MAX_ATTEMPTS, None)
    assert deliver(engine, now + dt.timedelta(days=30)) == DeliveryStats()
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_an_unreachable_subscriber_fails_only_its_own_delivery(
    engine: Engine, receiver: Receiver
) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = subscribe(engine, f"http://127.0.0.1:{closed_port}/hooks").id
    subscribe(engine, receiver.url)
    enqueue(engine, scored_frame([("I1", "critical", 0.9)]))

    assert deliver(engine, START) == DeliveryStats(claimed=2, delivered=1, retrying=1)

    status = {row.subscription_id: (row.status, row.last_error) for row in deliveries(engine)}
    assert status[down][0] == "pending" and status[down][1].startswith("ConnectError")
    assert len(receiver.requests) == 1


def test_a_delivery_left_sending_by_a_stopped_worker_is_retried_after_its_lease(
    engine: Engine, receiver: Receiver
) -> None:
    enqueue_one(engine, receiver.url)
    with engine.begin() as connection:  # what a claim leaves behind when its worker dies
        connection.execute(
            sa.update(WebhookDelivery).values(
                status="sending", attempts=1, next_attempt_at=START + CLAIM_LEASE
            )
        )

    assert deliver(engine, START + CLAIM_LEASE / 2) == DeliveryStats()
    assert deliver(engine, START + CLAIM_LEASE) == DeliveryStats(claimed=1, delivered=1)
    assert deliveries(engine)[0].attempts == 2


def test_workers_running_at_once_deliver_each_event_exactly_once(
    engine: Engine, receiver: Receiver
) -> None:
    subscribe(engine, receiver.url, secret=SECRET)
    enqueue(engine, scored_frame([(f"I{i}", "high", 0.6) for i in range(30)]))

    async def four_workers() -> list[DeliveryStats]:
        async with httpx.AsyncClient() as client:
            return await asyncio.gather(
                *(deliver_due(engine, client, now=START, batch=10) for _ in range(4))
            )

    stats = asyncio.run(four_workers())

    assert sum(s.delivered for s in stats) == 30
    event_ids = [request.headers["X-Latepay-Delivery"] for request in receiver.requests]
    assert len(event_ids) == len(set(event_ids)) == 30
    assert {row.status for row in deliveries(engine)} == {"delivered"}
