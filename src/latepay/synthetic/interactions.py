"""Customer-service log: contacts with each customer and payment promises.

Complaints are more frequent for unreliable customers and spike in the months
before and while a customer deteriorates, so the log carries early warning.
Payment promises follow late invoices.
"""

from dataclasses import dataclass, fields

import numpy as np

from latepay.synthetic.customers import CustomerBatch
from latepay.synthetic.reliability import ReliabilityPath
from latepay.synthetic.timeline import MonthGrid
from latepay.synthetic.vectorised import draw_categorical
from latepay.synthetic.vocabulary import INTERACTION_TOPICS, SEGMENTS

# Monthly contact rates of an average mid-market customer.
ROUTINE_CONTACTS_PER_MONTH = {"billing_question": 0.10, "general": 0.07, "address_change": 0.006}
COMPLAINTS_PER_MONTH = 0.03
SEGMENT_CONTACT_MULTIPLIER = {"enterprise": 2.0, "mid-market": 1.0, "small": 0.6}
COMPLAINT_RELIABILITY_SENSITIVITY = 0.5
# Complaints multiply in the months around the start of a deterioration.
COMPLAINT_DETERIORATION_MULTIPLIER = 5.0
COMPLAINT_WARNING_MONTHS = (-4, 3)
WEEKEND_CONTACT_WEIGHT = 0.15

PAYMENT_PROMISE_SHARE = 0.20
PAYMENT_PROMISE_MAX_DAYS_AFTER_DUE = 20

# Channel shares in vocabulary.INTERACTION_CHANNELS order: phone, email, portal.
CHANNEL_SHARES = {
    "complaint": (0.55, 0.35, 0.10),
    "billing_question": (0.30, 0.50, 0.20),
    "address_change": (0.20, 0.40, 0.40),
    "payment_promise": (0.60, 0.40, 0.00),
    "general": (0.40, 0.40, 0.20),
}

COMPLAINT = INTERACTION_TOPICS.index("complaint")
PAYMENT_PROMISE = INTERACTION_TOPICS.index("payment_promise")


@dataclass(frozen=True)
class InteractionBatch:
    """Interactions of a block of customers (unordered).

    Attributes
    ----------
    customer
        Position of the customer within its ``CustomerBatch``.
    day
        Day number of the interaction.
    topic, channel
        Codes into ``INTERACTION_TOPICS`` and ``INTERACTION_CHANNELS``.
    """

    customer: np.ndarray
    day: np.ndarray
    topic: np.ndarray
    channel: np.ndarray

    def of_topic(self, topic: int) -> "InteractionBatch":
        """The interactions about one topic."""
        keep = self.topic == topic
        return InteractionBatch(
            self.customer[keep], self.day[keep], self.topic[keep], self.channel[keep]
        )

    @staticmethod
    def concatenate(batches: list["InteractionBatch"]) -> "InteractionBatch":
        """Stack several batches into one."""
        return InteractionBatch(
            *(
                np.concatenate([getattr(batch, field.name) for batch in batches])
                for field in fields(InteractionBatch)
            )
        )


def simulate_service_contacts(
    rng: np.random.Generator,
    customers: CustomerBatch,
    reliability: ReliabilityPath,
    grid: MonthGrid,
) -> InteractionBatch:
    """Simulate complaints and routine contacts of each customer month by month.

    Parameters
    ----------
    rng
        Random generator of this block of customers.
    customers
        The customers; contacts start when billing starts.
    reliability
        Reliability paths, which drive complaint intensity.
    grid
        The months of the period.

    Returns
    -------
    InteractionBatch
        Every contact except payment promises.
    """
    months = np.arange(grid.months)
    active = months[None, :] >= customers.first_active_month[:, None]
    segment_multiplier = np.array([SEGMENT_CONTACT_MULTIPLIER[label] for label in SEGMENTS])[
        customers.segment
    ]
    exposure = active * segment_multiplier[:, None]

    start = reliability.deterioration_start[:, None]
    warning_low, warning_high = COMPLAINT_WARNING_MONTHS
    warning = (
        (start >= 0)
        & (months[None, :] >= start + warning_low)
        & (months[None, :] < start + warning_high)
    )
    complaint_rate = (
        COMPLAINTS_PER_MONTH
        * np.exp(-COMPLAINT_RELIABILITY_SENSITIVITY * reliability.logit)
        * np.where(warning, COMPLAINT_DETERIORATION_MULTIPLIER, 1.0)
    )
    rates = {"complaint": complaint_rate, **ROUTINE_CONTACTS_PER_MONTH}

    customer_parts, month_parts, topic_parts = [], [], []
    for topic, rate in rates.items():
        counts = rng.poisson(rate * exposure)
        cell = np.repeat(np.arange(counts.size), counts.ravel())
        customer, month = np.divmod(cell, grid.months)
        customer_parts.append(customer)
        month_parts.append(month)
        topic_parts.append(np.full(len(cell), INTERACTION_TOPICS.index(topic)))
    customer = np.concatenate(customer_parts)
    month = np.concatenate(month_parts)
    topic = np.concatenate(topic_parts)
    return InteractionBatch(
        customer=customer,
        day=grid.sample_days(rng, month, weekend_weight=WEEKEND_CONTACT_WEIGHT),
        topic=topic,
        channel=_draw_channels(rng, topic),
    )


def simulate_payment_promises(
    rng: np.random.Generator,
    customer: np.ndarray,
    due_day: np.ndarray,
    days_late: np.ndarray,
    as_of: int,
) -> InteractionBatch:
    """Payment promises made by customers chased about overdue invoices.

    Parameters
    ----------
    rng
        Random generator of this block of customers.
    customer
        Customer position of each late invoice.
    due_day
        Due day of each late invoice.
    days_late
        Days after the due date each invoice is (or would be) paid.
    as_of
        Last day of the period; later promises are not logged yet.

    Returns
    -------
    InteractionBatch
        One payment promise for a share of the late invoices, made after the due
        date and usually before payment.
    """
    promised = rng.random(len(customer)) < PAYMENT_PROMISE_SHARE
    window = np.clip(days_late - 1, 1, PAYMENT_PROMISE_MAX_DAYS_AFTER_DUE)
    day = due_day + 1 + np.floor(rng.random(len(customer)) * window).astype(np.int64)
    keep = promised & (day <= as_of)
    topic = np.full(int(keep.sum()), PAYMENT_PROMISE)
    return InteractionBatch(customer[keep], day[keep], topic, _draw_channels(rng, topic))


def _draw_channels(rng: np.random.Generator, topic: np.ndarray) -> np.ndarray:
    shares = np.array([CHANNEL_SHARES[label] for label in INTERACTION_TOPICS])
    return draw_categorical(rng, shares[topic])
