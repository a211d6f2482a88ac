"""Outbound webhooks: signed score events for CRM and billing systems, through an outbox.

Scoring writes events to ``webhook_deliveries`` in its own transaction
(:func:`enqueue_score_events`); a :class:`WebhookDispatcher` in the API server delivers them
with retries, so a slow or broken subscriber never slows or fails a scoring request.
"""

from latepay.webhooks.delivery import (
    MAX_ATTEMPTS,
    DeliveryStats,
    deliver_due,
    retry_delay,
    sign,
    verify,
)
from latepay.webhooks.dispatcher import WebhookDispatcher
from latepay.webhooks.events import (
    EVENT_TYPES,
    HIGH_RISK,
    TIER_CHANGED,
    announce_scores,
    enqueue_score_events,
    previous_tiers,
)
from latepay.webhooks.subscriptions import (
    Subscription,
    list_subscriptions,
    subscribe,
    unsubscribe,
)

__all__ = [
    "EVENT_TYPES",
    "HIGH_RISK",
    "MAX_ATTEMPTS",
    "TIER_CHANGED",
    "DeliveryStats",
    "Subscription",
    "WebhookDispatcher",
    "announce_scores",
    "deliver_due",
    "enqueue_score_events",
    "list_subscriptions",
    "previous_tiers",
    "retry_delay",
    "sign",
    "subscribe",
    "unsubscribe",
    "verify",
]
