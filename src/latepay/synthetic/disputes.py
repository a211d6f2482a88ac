"""Invoice disputes.

Whether an invoice will be disputed is decided when it is issued (and raises
its late probability), but the dispute only becomes visible in the ledger on
the day it is opened, a few days after issuance and before payment.
"""

from dataclasses import dataclass

import numpy as np

from latepay.synthetic.invoices import InvoiceBatch
from latepay.synthetic.timeline import NOT_A_DAY
from latepay.synthetic.vectorised import draw_categorical

DISPUTE_BASE_LOGIT = -3.6
DISPUTE_PO_REQUIRED_EFFECT = 1.0
DISPUTE_PAPER_EFFECT = 0.3
DISPUTE_RELATIVE_AMOUNT_EFFECT = 0.4
DISPUTE_RELIABILITY_EFFECT = -0.3

MAX_DAYS_TO_OPEN = 21
RESOLUTION_DAYS_GAMMA = (2.0, 9.0)

# Reason shares in DISPUTE_REASONS order: pricing, quantity, quality, missing_po, duplicate.
REASON_SHARES = (0.35, 0.25, 0.25, 0.05, 0.10)
REASON_SHARES_WHEN_PO_REQUIRED = (0.20, 0.15, 0.15, 0.45, 0.05)


@dataclass(frozen=True)
class DisputeDraw:
    """Disputes decided at issuance.

    Attributes
    ----------
    invoice
        Position of each disputed invoice within its ``InvoiceBatch``.
    opened_day
        Day the dispute is opened: after issuance, before the due date.
    resolution_days
        Days the dispute takes to resolve unless payment settles it earlier.
    reason
        Codes into ``DISPUTE_REASONS``.
    probability
        For every invoice of the batch, the chance it was going to be disputed: what was
        knowable at issuance about a dispute that is decided then but seen only later.
    """

    invoice: np.ndarray
    opened_day: np.ndarray
    resolution_days: np.ndarray
    reason: np.ndarray
    probability: np.ndarray


def draw_disputes(
    rng: np.random.Generator, invoices: InvoiceBatch, reliability_at_issue: np.ndarray
) -> DisputeDraw:
    """Decide which invoices will be disputed, when, and why.

    Parameters
    ----------
    rng
        Random generator of this block of customers.
    invoices
        The issued invoices; credit notes are never disputed.
    reliability_at_issue
        Customer reliability logit in the month of issuance.

    Returns
    -------
    DisputeDraw
        One entry per disputed invoice.
    """
    logit = (
        DISPUTE_BASE_LOGIT
        + DISPUTE_PO_REQUIRED_EFFECT * invoices.po_number_required
        + DISPUTE_PAPER_EFFECT * invoices.paper
        + DISPUTE_RELATIVE_AMOUNT_EFFECT * invoices.relative_log_amount
        + DISPUTE_RELIABILITY_EFFECT * reliability_at_issue
    )
    probability = np.where(invoices.is_credit_note, 0.0, 1.0 / (1.0 + np.exp(-logit)))
    disputed = rng.random(len(invoices)) < probability
    invoice = np.flatnonzero(disputed)
    count = len(invoice)

    # Opening at most terms - 1 days after issue keeps it before the due date,
    # and so before any payment.
    latest_offset = np.minimum(MAX_DAYS_TO_OPEN, invoices.terms_days[invoice] - 1)
    opened_day = (
        invoices.issue_day[invoice]
        + 1
        + np.floor(rng.random(count) * latest_offset).astype(np.int64)
    )
    resolution_days = 1 + np.floor(rng.gamma(*RESOLUTION_DAYS_GAMMA, count)).astype(np.int64)
    reason_shares = np.where(
        invoices.po_number_required[invoice, None],
        np.array(REASON_SHARES_WHEN_PO_REQUIRED),
        np.array(REASON_SHARES),
    )
    return DisputeDraw(
        invoice=invoice,
        opened_day=opened_day,
        resolution_days=resolution_days,
        reason=draw_categorical(rng, reason_shares),
        probability=probability,
    )


def resolved_days(disputes: DisputeDraw, final_payment_day: np.ndarray, as_of: int) -> np.ndarray:
    """Day each dispute is resolved, or ``NOT_A_DAY`` if still open at ``as_of``.

    Payment of the invoice closes a dispute that would otherwise run longer.

    Parameters
    ----------
    disputes
        The disputes drawn at issuance.
    final_payment_day
        Day each disputed invoice is fully paid (``NEVER`` if it is not).
    as_of
        Last day of the period.
    """
    resolved = np.minimum(disputes.opened_day + disputes.resolution_days, final_payment_day)
    return np.where(resolved <= as_of, resolved, NOT_A_DAY)
