"""Webhook subscribers: the CRM and billing endpoints an admin registers to receive score events."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.tables import WebhookDelivery, WebhookSubscription, as_utc, utcnow
from latepay.errors import InputError, NotFoundError
from latepay.webhooks.delivery import CANCELLED, PENDING, SENDING
from latepay.webhooks.events import EVENT_TYPES

MAX_URL_LENGTH = 2048
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 128


@dataclass(frozen=True)
class Subscription:
    """An active subscription.

    ``secret`` is only filled in the answer of :func:`subscribe`, like an API key shown once:
    a listing that leaks cannot be used to forge events.
    """

    id: int
    url: str
    events: tuple[str, ...]
    created_at: dt.datetime
    secret: str | None = None


def subscribe(
    engine: Engine,
    url: str,
    *,
    events: Iterable[str] | None = None,
    secret: str | None = None,
) -> Subscription:
    """Register ``url`` to receive ``events`` (all event types by default).

    Parameters
    ----------
    engine : Engine
    url : str
        An absolute http(s) URL with a host.
    events : iterable of str, optional
        Event types from :data:`latepay.webhooks.EVENT_TYPES`; all of them by default.
    secret : str, optional
        The shared HMAC secret; a random one is generated when not given.

    Returns
    -------
    Subscription
        With its ``secret``, which the subscriber needs to verify signatures.

    Raises
    ------
    InputError
        For a URL that is not http(s) with a host, an unknown event type or an unusable secret.
    """
    _check_url(url)
    chosen = _check_events(events)
    if secret is None:
        secret = secrets.token_urlsafe(32)
    elif not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise InputError(
            f"a webhook secret must have {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters, "
            f"got {len(secret)}; leave it out to have one generated"
        )
    created_at = utcnow()
    with engine.begin() as connection:
        subscription_id = connection.execute(
            sa.insert(WebhookSubscription)
            .values(url=url, secret=secret, events=list(chosen), active=True, created_at=created_at)
            .returning(WebhookSubscription.id)
        ).scalar_one()
    return Subscription(
        id=subscription_id, url=url, events=chosen, created_at=created_at, secret=secret
    )


def list_subscriptions(engine: Engine) -> list[Subscription]:
    """The active subscriptions, oldest first, without their secrets."""
    query = (
        sa.select(
            WebhookSubscription.id,
            WebhookSubscription.url,
            WebhookSubscription.events,
            WebhookSubscription.created_at,
        )
        .where(WebhookSubscription.active)
        .order_by(WebhookSubscription.id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        Subscription(
            id=row.id,
            url=row.url,
            events=tuple(row.events),
            created_at=as_utc(row.created_at),
        )
        for row in rows
    ]


def unsubscribe(engine: Engine, subscription_id: int) -> None:
    """Stop sending to a subscription and cancel its undelivered events.

    The row is deactivated rather than deleted, so past deliveries keep their subscriber.

    Raises
    ------
    NotFoundError
        When no active subscription has this id.
    """
    with engine.begin() as connection:
        found = connection.execute(
            sa.update(WebhookSubscription)
            .where(WebhookSubscription.id == subscription_id, WebhookSubscription.active)
            .values(active=False)
        ).rowcount
        if not found:
            raise NotFoundError(
                f"no active webhook subscription with id {subscription_id}; "
                "list the subscriptions to see their ids"
            )
        connection.execute(
            sa.update(WebhookDelivery)
            .where(
                WebhookDelivery.subscription_id == subscription_id,
                WebhookDelivery.status.in_((PENDING, SENDING)),
            )
            .values(status=CANCELLED)
        )


def _check_url(url: str) -> None:
    problem = _url_problem(url)
    if problem:
        raise InputError(
            "webhook url must be an absolute http(s) URL such as "
            f"https://crm.example.com/hooks/latepay, got {url!r}: {problem}"
        )


def _url_problem(url: str) -> str | None:
    if len(url) > MAX_URL_LENGTH:
        return f"it is longer than {MAX_URL_LENGTH} characters"
    if any(character.isspace() for character in url):
        return "it contains white space"
    try:
        parts = urlsplit(url)
        # .port raises on a port that is not a number in 0-65535.
        host, _port = parts.hostname, parts.port
    except ValueError as error:
        return str(error)
    if parts.scheme not in ("http", "https"):
        return "it does not start with http:// or https://"
    if not host:
        return "it has no host"
    return None


def _check_events(events: Iterable[str] | None) -> tuple[str, ...]:
    if events is None:
        return EVENT_TYPES
    chosen = tuple(dict.fromkeys(events))
    unknown = [event for event in chosen if event not in EVENT_TYPES]
    if unknown or not chosen:
        raise InputError(
            f"webhook events must be one or more of {', '.join(EVENT_TYPES)}, "
            f"got {', '.join(unknown) if unknown else 'none'}"
        )
    return chosen
