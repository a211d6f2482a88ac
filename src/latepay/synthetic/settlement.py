"""When and how invoices are paid, given whether they are late.

On-time invoices are paid between issuance (or the dispute, if any) and the
due date, mostly close to the due date. Late invoices are paid the drawn
number of days after it, except a small share that is written off and never
paid. A share of invoices is paid in two instalments whose amounts add up to
the invoice exactly. Nothing is paid after ``as_of``.
"""

from dataclasses import dataclass

import numpy as np

from latepay.synthetic.invoices import InvoiceBatch
from latepay.synthetic.timeline import NEVER
from latepay.synthetic.vocabulary import PAYMENT_METHODS

ON_TIME_NEAR_DUE_SHARE = 0.60
NEAR_DUE_MEAN_DAYS_EARLY = 2.0
WRITE_OFF_SHARE_OF_LATE = 0.01
PARTIAL_PAYMENT_SHARE = 0.05
PARTIAL_FIRST_SHARE_RANGE = (0.2, 0.8)
PARTIAL_GAP_DAYS_RANGE = (5, 40)
MINIMUM_PARTIAL_CENTS = 200

DIRECT_DEBIT = PAYMENT_METHODS.index("direct_debit")


@dataclass(frozen=True)
class Settlement:
    """Payment outcome of every invoice and the payment rows seen by ``as_of``.

    Attributes
    ----------
    final_payment_day
        Day the last payment lands, or ``NEVER`` for write-offs and credit notes.
        May lie after ``as_of``.
    settled
        Whether the invoice is fully paid by ``as_of``.
    payment_invoice, payment_day, payment_cents
        One entry per payment made by ``as_of``; ``payment_invoice`` is the
        position of the paid invoice within its ``InvoiceBatch``.
    """

    final_payment_day: np.ndarray
    settled: np.ndarray
    payment_invoice: np.ndarray
    payment_day: np.ndarray
    payment_cents: np.ndarray


def settle_invoices(
    rng: np.random.Generator,
    invoices: InvoiceBatch,
    late: np.ndarray,
    days_late: np.ndarray,
    earliest_payment_day: np.ndarray,
    as_of: int,
) -> Settlement:
    """Schedule the payments of every invoice.

    Parameters
    ----------
    rng
        Random generator of this block of customers.
    invoices
        The invoices to settle; credit notes get no payment.
    late
        Whether each invoice is paid after its due date.
    days_late
        Days after the due date a late invoice is paid.
    earliest_payment_day
        First day a payment may land: the issue day, or the day after a dispute
        is opened. It never exceeds the due date.
    as_of
        Last day of the period; payments after it are not recorded.

    Returns
    -------
    Settlement
        Final payment days and the recorded payment rows.
    """
    count = len(invoices)
    slack = invoices.due_day - earliest_payment_day
    near_due = rng.random(count) < ON_TIME_NEAR_DUE_SHARE
    days_early_near_due = np.floor(rng.exponential(NEAR_DUE_MEAN_DAYS_EARLY, count)).astype(
        np.int64
    )
    days_early = np.where(
        near_due, np.minimum(days_early_near_due, slack), rng.integers(0, slack + 1)
    )
    # Direct debits are collected on the due date.
    days_early = np.where(invoices.payment_method == DIRECT_DEBIT, 0, days_early)

    written_off = late & (rng.random(count) < WRITE_OFF_SHARE_OF_LATE)
    never_paid = written_off | invoices.is_credit_note
    paid_day = np.where(late, invoices.due_day + days_late, invoices.due_day - days_early)
    final_payment_day = np.where(never_paid, NEVER, paid_day)

    split = (
        (rng.random(count) < PARTIAL_PAYMENT_SHARE)
        & ~never_paid
        & (invoices.amount_cents >= MINIMUM_PARTIAL_CENTS)
        & (paid_day > earliest_payment_day)
    )
    gap = rng.integers(PARTIAL_GAP_DAYS_RANGE[0], PARTIAL_GAP_DAYS_RANGE[1] + 1, count)
    first_day = np.clip(paid_day - gap, earliest_payment_day, paid_day - 1)
    first_share = rng.uniform(*PARTIAL_FIRST_SHARE_RANGE, count)
    # Work in whole cents so the instalments add up to the invoice exactly.
    first_cents = np.round(invoices.amount_cents * first_share).astype(np.int64)

    single = ~never_paid & ~split
    invoice_index = np.arange(count)
    payment_invoice = np.concatenate(
        [invoice_index[single], invoice_index[split], invoice_index[split]]
    )
    payment_day = np.concatenate([paid_day[single], first_day[split], paid_day[split]])
    payment_cents = np.concatenate(
        [
            invoices.amount_cents[single],
            first_cents[split],
            invoices.amount_cents[split] - first_cents[split],
        ]
    )
    recorded = payment_day <= as_of
    return Settlement(
        final_payment_day=final_payment_day,
        settled=final_payment_day <= as_of,
        payment_invoice=payment_invoice[recorded],
        payment_day=payment_day[recorded],
        payment_cents=payment_cents[recorded],
    )
