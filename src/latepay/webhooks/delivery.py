"""Signed delivery of outbox events to subscribers, with retries and backoff.

Each request carries the event as a JSON body and four headers::

    X-Latepay-Event: invoice.high_risk
    X-Latepay-Delivery: <event id, the same on every retry: deduplicate on it>
    X-Latepay-Timestamp: <unix seconds when sent>
    X-Latepay-Signature: sha256=<HMAC-SHA256 hex of "<timestamp>.<body>" with the secret>

Signing the timestamp with the body lets a subscriber reject a captured request replayed later
(:func:`verify` does both checks). A delivery is done on any 2xx answer; anything else (another
status, a refused connection, a timeout) is retried with exponential backoff until
:data:`MAX_ATTEMPTS`, so an event is delivered at least once unless the subscriber stays down
for hours.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import random
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay import __version__
from latepay.db.tables import WebhookDelivery, WebhookSubscription, utcnow

logger = logging.getLogger(__name__)

# Statuses of a delivery: pending -> sending -> delivered, or back to pending for a retry,
# or failed after MAX_ATTEMPTS; cancelled when its subscription is removed.
PENDING = "pending"
SENDING = "sending"
DELIVERED = "delivered"
FAILED = "failed"
CANCELLED = "cancelled"

# 10 s, 20 s, 40 s, ... capped at an hour: twelve attempts span about three and a half hours,
# enough to ride out a subscriber's deployment or a short outage.
MAX_ATTEMPTS = 12
FIRST_RETRY_SECONDS = 10.0
MAX_RETRY_SECONDS = 3600.0
# Up to this share is added at random, so that deliveries failed together do not retry together.
RETRY_JITTER = 0.1

TIMEOUT_SECONDS = 5.0
DEFAULT_BATCH = 50
# Requests in flight at once, so that a backlog reaches a subscriber as a stream, not a burst.
MAX_CONCURRENT_REQUESTS = 10
# A claimed delivery still 'sending' after this belonged to a worker that stopped mid-send.
CLAIM_LEASE = dt.timedelta(minutes=5)
MAX_ERROR_LENGTH = 500
SIGNATURE_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class DeliveryStats:
    """What one :func:`deliver_due` call did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Claimed:
    id: int
    event_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    url: str
    secret: str


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """HMAC-SHA256, in hex, of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    if isinstance(body, str):
        body = body.encode()
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes | str,
    signature: str,
    tolerance_seconds: float = SIGNATURE_TOLERANCE_SECONDS,
    *,
    now: dt.datetime | None = None,
) -> bool:
    """Whether a request really comes from latepay, and recently: what a subscriber checks.

    Parameters
    ----------
    secret : str
        The subscription's secret.
    timestamp : str
        The ``X-Latepay-Timestamp`` header.
    body : bytes or str
        The raw request body, exactly as received.
    signature : str
        The ``X-Latepay-Signature`` header, ``sha256=<hex>``.
    tolerance_seconds : float
        How far the timestamp may be from ``now``; older requests are taken as replays.
    now : datetime, optional
        The current time by default.

    Examples
    --------
    >>> body = '{"id": "e1"}'
    >>> verify("s3cret", "1700000000", body, "sha256=" + sign("s3cret", "1700000000", body),
    ...        now=dt.datetime.fromtimestamp(1700000060, dt.UTC))
    True
    """
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = (now or utcnow()).timestamp()
    if abs(current - sent) > tolerance_seconds:
        return False
    expected = f"sha256={sign(secret, timestamp, body)}"
    return hmac.compare_digest(expected.encode(), signature.encode())


def retry_delay(attempts: int) -> dt.timedelta:
    """How long to wait after ``attempts`` failed attempts: doubling from 10 s, at most 1 h."""
    delay = min(FIRST_RETRY_SECONDS * 2 ** (attempts - 1), MAX_RETRY_SECONDS)
    return dt.timedelta(seconds=delay * (1 + random.uniform(0, RETRY_JITTER)))


async def deliver_due(
    engine: Engine,
    client: httpx.AsyncClient,
    *,
    now: dt.datetime | None = None,
    batch: int = DEFAULT_BATCH,
) -> DeliveryStats:
    """Send the deliveries that are due, and record each one's result.

    Safe to run from several workers at once: a delivery is claimed (marked ``sending``) in a
    short transaction of its own, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, before any
    request is made; the requests run concurrently outside any transaction.

    Parameters
    ----------
    engine : Engine
    client : httpx.AsyncClient
    now : datetime, optional
        Timezone-aware moment that decides what is due and when retries fall; the current time
        by default.
    batch : int
        At most this many deliveries are claimed.

    Returns
    -------
    DeliveryStats
    """
    now = (now or utcnow()).astimezone(dt.UTC)
    # The database calls are blocking; threads keep them off the event loop.
    claimed = await asyncio.to_thread(_claim, engine, now, batch)
    if not claimed:
        return DeliveryStats()
    in_flight = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)

    async def send(delivery: _Claimed) -> str | None:
        async with in_flight:
            return await _send(client, delivery)

    errors = await asyncio.gather(*(send(delivery) for delivery in claimed))
    return await asyncio.to_thread(_record, engine, claimed, errors, now)


def _claim(engine: Engine, now: dt.datetime, batch: int) -> list[_Claimed]:
    delivery = WebhookDelivery
    # A 'sending' row whose lease has run out is due again: its worker stopped mid-send.
    due = (
        sa.select(delivery.id)
        .where(delivery.status.in_((PENDING, SENDING)), delivery.next_attempt_at <= now)
        .order_by(delivery.next_attempt_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    # One UPDATE, not a SELECT then an UPDATE: SQLite then takes its write lock up front, so two
    # processes cannot claim the same row there either.
    claim = (
        sa.update(delivery)
        .where(delivery.id.in_(due.scalar_subquery()))
        .values(status=SENDING, attempts=delivery.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        .returning(
            delivery.id,
            delivery.subscription_id,
            delivery.event_id,
            delivery.event_type,
            delivery.payload,
            delivery.attempts,
        )
    )
    with engine.begin() as connection:
        rows = connection.execute(claim).all()
        if not rows:
            return []
        endpoints = {
            row.id: row
            for row in connection.execute(
                sa.select(
                    WebhookSubscription.id, WebhookSubscription.url, WebhookSubscription.secret
                ).where(WebhookSubscription.id.in_({row.subscription_id for row in rows}))
            )
        }
    return [
        _Claimed(
            id=row.id,
            event_id=row.event_id,
            event_type=row.event_type,
            payload=row.payload,
            attempts=row.attempts,
            url=endpoints[row.subscription_id].url,
            secret=endpoints[row.subscription_id].secret,
        )
        for row in rows
    ]


async def _send(client: httpx.AsyncClient, delivery: _Claimed) -> str | None:
    """POST one delivery; its error, or None when the subscriber accepted it."""
    body = json.dumps(delivery.payload, separators=(",", ":"))
    timestamp = str(int(utcnow().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"latepay-webhooks/{__version__}",
        "X-Latepay-Event": delivery.event_type,
        "X-Latepay-Delivery": delivery.event_id,
        "X-Latepay-Timestamp": timestamp,
        "X-Latepay-Signature": f"sha256={sign(delivery.secret, timestamp, body)}",
    }
    try:
        response = await client.post(
            delivery.url, content=body.encode(), headers=headers, timeout=TIMEOUT_SECONDS
        )
    except Exception as error:
        # Whatever goes wrong with one endpoint (refused, timed out, bad TLS, a URL httpx
        # rejects) is that delivery's failure, to retry; it must not lose the batch's results.
        return f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]
    if response.is_success:
        return None
    return f"HTTP {response.status_code}: {response.text}"[:MAX_ERROR_LENGTH]


def _record(
    engine: Engine, claimed: list[_Claimed], errors: list[str | None], now: dt.datetime
) -> DeliveryStats:
    counts = {DELIVERED: 0, PENDING: 0, FAILED: 0}
    rows = []
    for delivery, error in zip(claimed, errors, strict=True):
        if error is None:
            status, next_attempt_at = DELIVERED, now
        elif delivery.attempts >= MAX_ATTEMPTS:
            status, next_attempt_at = FAILED, now
            logger.error(
                "webhook delivery %s of event %s to %s failed for good after %d attempts: %s",
                delivery.id,
                delivery.event_id,
                delivery.url,
                delivery.attempts,
                error,
            )
        else:
            status, next_attempt_at = PENDING, now + retry_delay(delivery.attempts)
            logger.warning(
                "webhook delivery %s of event %s to %s failed (attempt %d of %d), retrying: %s",
                delivery.id,
                delivery.event_id,
                delivery.url,
                delivery.attempts,
                MAX_ATTEMPTS,
                error,
            )
        counts[status] += 1
        rows.append(
            {
                "b_id": delivery.id,
                "b_status": status,
                "b_error": error,
                "b_next_attempt_at": next_attempt_at,
                "b_delivered_at": now if error is None else None,
            }
        )
    # Only rows still 'sending' are updated: one cancelled meanwhile stays cancelled.
    record = (
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == sa.bindparam("b_id"), WebhookDelivery.status == SENDING)
        .values(
            status=sa.bindparam("b_status"),
            # A success keeps the error before it, which tells why it took several attempts.
            last_error=sa.func.coalesce(
                sa.bindparam("b_error", type_=sa.Text), WebhookDelivery.last_error
            ),
            next_attempt_at=sa.bindparam("b_next_attempt_at"),
            delivered_at=sa.bindparam("b_delivered_at"),
        )
    )
    with engine.begin() as connection:
        connection.execute(record, rows)
    return DeliveryStats(
        claimed=len(claimed),
        delivered=counts[DELIVERED],
        retrying=counts[PENDING],
        failed=counts[FAILED],
    )
