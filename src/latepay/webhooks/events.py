"""Score events, written to the outbox in the same transaction as the predictions they describe.

An event is only ever written next to the scores that caused it: if the scoring transaction rolls
back, no subscriber hears of a score that was never recorded, and an event that was recorded is
delivered afterwards, with retries, by :mod:`latepay.webhooks.delivery`.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection

from latepay.db.tables import Invoice, Prediction, WebhookDelivery, WebhookSubscription, utcnow
from latepay.webhooks.delivery import PENDING

HIGH_RISK = "invoice.high_risk"
TIER_CHANGED = "invoice.tier_changed"
EVENT_TYPES = (HIGH_RISK, TIER_CHANGED)

# The top two of latepay.scoring.RISK_TIERS, named here so that writing events does not load
# the models.
HIGH_RISK_TIERS = frozenset({"high", "critical"})

# Below every back end's limit on bound parameters (SQLite's is 32,766).
IDS_PER_QUERY = 10_000


def previous_tiers(connection: Connection, invoice_ids: Iterable[str]) -> dict[str, str]:
    """The risk tier of each invoice's latest recorded prediction.

    Call it before recording the new predictions, in the same transaction: afterwards the
    latest prediction is the new one.

    Parameters
    ----------
    connection : Connection
    invoice_ids : iterable of str

    Returns
    -------
    dict
        invoice_id to risk tier; invoices never scored before are absent.
    """
    ids = list(dict.fromkeys(invoice_ids))
    tiers: dict[str, str] = {}
    for start in range(0, len(ids), IDS_PER_QUERY):
        ranked = (
            sa.select(
                Prediction.invoice_id,
                Prediction.risk_tier,
                sa.func.row_number()
                .over(
                    partition_by=Prediction.invoice_id,
                    order_by=(Prediction.scored_at.desc(), Prediction.id.desc()),
                )
                .label("recency"),
            )
            .where(Prediction.invoice_id.in_(ids[start : start + IDS_PER_QUERY]))
            .subquery()
        )
        latest = sa.select(ranked.c.invoice_id, ranked.c.risk_tier).where(ranked.c.recency == 1)
        tiers.update(connection.execute(latest).all())
    return tiers


def enqueue_score_events(
    connection: Connection, scored: pd.DataFrame, previous_tiers: dict[str, str]
) -> int:
    """Write the events of freshly scored invoices to the outbox, one row per subscriber.

    An invoice scored high or critical gives an ``invoice.high_risk`` event when it was not
    already high or critical (re-scoring a risky invoice every day stays quiet); one whose
    tier differs from its previous prediction's gives an ``invoice.tier_changed`` event (a
    first score is not a change). Each event goes to every active subscriber of its type.

    Parameters
    ----------
    connection : Connection
        The caller's connection, inside the transaction that records the predictions.
    scored : DataFrame
        The frame of :func:`latepay.scoring.score_invoices`; customer ids are taken from its
        ``customer_id`` column where it has one, otherwise read from ``invoices``.
    previous_tiers : dict
        invoice_id to the tier before this score, from :func:`previous_tiers`.

    Returns
    -------
    int
        The number of deliveries written; when it is not zero, wake the dispatcher after the
        transaction commits.

    Examples
    --------
    In the transaction that records the scores, previous tiers are read first::

        tiers = previous_tiers(connection, scored["invoice_id"])
        connection.execute(sa.insert(Prediction), rows)
        written = enqueue_score_events(connection, scored, tiers)
    """
    subscribers = connection.execute(
        sa.select(WebhookSubscription.id, WebhookSubscription.events).where(
            WebhookSubscription.active
        )
    ).all()
    subscribers_of = {
        event_type: [row.id for row in subscribers if event_type in row.events]
        for event_type in EVENT_TYPES
    }
    if not any(subscribers_of.values()):
        return 0

    triggered: list[tuple[str, dict[str, Any], str | None]] = []
    for record in scored.to_dict("records"):
        previous = previous_tiers.get(record["invoice_id"])
        entered_high_risk = (
            record["risk_tier"] in HIGH_RISK_TIERS and previous not in HIGH_RISK_TIERS
        )
        if entered_high_risk and subscribers_of[HIGH_RISK]:
            triggered.append((HIGH_RISK, record, previous))
        changed = previous is not None and previous != record["risk_tier"]
        if changed and subscribers_of[TIER_CHANGED]:
            triggered.append((TIER_CHANGED, record, previous))
    if not triggered:
        return 0

    unknown_customer = {
        record["invoice_id"]
        for _, record, _ in triggered
        if not _present(record.get("customer_id"))
    }
    customer_of = _customer_ids(connection, unknown_customer) if unknown_customer else {}
    created_at = utcnow()
    rows = []
    for event_type, record, previous in triggered:
        customer_id = record.get("customer_id")
        if not _present(customer_id):
            customer_id = customer_of.get(record["invoice_id"])
        payload = _payload(event_type, record, previous, customer_id, created_at)
        rows.extend(
            {
                "subscription_id": subscription_id,
                "event_id": payload["id"],
                "event_type": event_type,
                "payload": payload,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": created_at,
                "created_at": created_at,
            }
            for subscription_id in subscribers_of[event_type]
        )
    connection.execute(sa.insert(WebhookDelivery), rows)
    return len(rows)


def announce_scores(connection: Connection, scored: pd.DataFrame) -> int:
    """Enqueue the events of scores about to be recorded; call it before inserting them.

    Previous tiers are only looked up when someone subscribes, so scoring a million invoices
    with no subscriber pays one small query.

    Returns
    -------
    int
        Deliveries written (see :func:`enqueue_score_events`).
    """
    active = connection.execute(
        sa.select(WebhookSubscription.id).where(WebhookSubscription.active).limit(1)
    ).first()
    if active is None:
        return 0
    return enqueue_score_events(
        connection, scored, previous_tiers(connection, scored["invoice_id"])
    )


def _payload(
    event_type: str,
    record: dict[str, Any],
    previous: str | None,
    customer_id: Any,
    created_at: dt.datetime,
) -> dict[str, Any]:
    data: dict[str, Any] = {"invoice_id": str(record["invoice_id"])}
    if _present(customer_id):
        data["customer_id"] = str(customer_id)
    model_version = record.get("model_version")
    data.update(
        p_late=float(record["p_late"]),
        risk_tier=record["risk_tier"],
        previous_tier=previous,
        expected_days_late=_number(record.get("expected_days_late")),
        model_version=str(model_version) if _present(model_version) else None,
        reasons=[reason["sentence"] for reason in record.get("reasons") or []],
    )
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "created_at": created_at.isoformat(),
        "data": data,
    }


def _customer_ids(connection: Connection, invoice_ids: Iterable[str]) -> dict[str, str]:
    ids = list(invoice_ids)
    customers: dict[str, str] = {}
    for start in range(0, len(ids), IDS_PER_QUERY):
        query = sa.select(Invoice.invoice_id, Invoice.customer_id).where(
            Invoice.invoice_id.in_(ids[start : start + IDS_PER_QUERY])
        )
        customers.update(connection.execute(query).all())
    return customers


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float | None:
    return float(value) if _present(value) else None
