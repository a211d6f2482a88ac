"""Turn a simulated block of customers into output table rows.

Identifiers are numbered consecutively across blocks; within a block, rows are
numbered in chronological order. Events after ``as_of`` are hidden here.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from latepay.synthetic.chunk import SimulatedChunk
from latepay.synthetic.customers import CustomerBatch
from latepay.synthetic.timeline import to_datetime64
from latepay.synthetic.vectorised import format_ids
from latepay.synthetic.vocabulary import (
    COUNTRIES,
    CURRENCIES,
    DISPUTE_REASONS,
    INDUSTRIES,
    INTERACTION_CHANNELS,
    INTERACTION_TOPICS,
    INVOICE_CHANNELS,
    PAYMENT_METHODS,
    SEGMENTS,
)

INVOICE_ID = ("INV", 7)
PAYMENT_ID = ("PAY", 7)
DISPUTE_ID = ("DSP", 6)
INTERACTION_ID = ("INT", 7)

PAPER, ELECTRONIC = INVOICE_CHANNELS


@dataclass(frozen=True)
class IdCounters:
    """How many identifiers of each kind earlier blocks have used."""

    invoices: int = 0
    payments: int = 0
    disputes: int = 0
    interactions: int = 0


@dataclass(frozen=True)
class ChunkTables:
    """Output rows of one block, keyed like ``layout.TABLE_SCHEMAS``."""

    frames: dict[str, pd.DataFrame]

    def counters_after(self, before: IdCounters) -> IdCounters:
        """Identifier counters once this block's rows are numbered."""
        return IdCounters(
            invoices=before.invoices + len(self.frames["invoices"]),
            payments=before.payments + len(self.frames["payments"]),
            disputes=before.disputes + len(self.frames["disputes"]),
            interactions=before.interactions + len(self.frames["interactions"]),
        )


def _labels(vocabulary: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    return np.array(vocabulary)[codes]


def _money(cents: np.ndarray) -> np.ndarray:
    return cents / 100


def _numbered(kind: tuple[str, int], already_used: int, count: int) -> np.ndarray:
    prefix, width = kind
    return format_ids(prefix, np.arange(already_used + 1, already_used + count + 1), width)


def build_tables(chunk: SimulatedChunk, counters: IdCounters, as_of: int) -> ChunkTables:
    """Build the rows of every table for one simulated block.

    Parameters
    ----------
    chunk
        The simulated block.
    counters
        Identifiers already used by earlier blocks.
    as_of
        Last day of the period; disputes opened later are not yet visible.

    Returns
    -------
    ChunkTables
        Frames for customers, invoices, payments, disputes, interactions and truth.
    """
    customer_id = chunk.customers.customer_id
    invoices = chunk.invoices
    invoice_id = _numbered(INVOICE_ID, counters.invoices, len(invoices))
    invoice_customer_id = customer_id[invoices.customer]

    frames = {
        "customers": _customer_frame(chunk.customers, customer_id),
        "invoices": pd.DataFrame(
            {
                "invoice_id": invoice_id,
                "customer_id": invoice_customer_id,
                "issue_date": to_datetime64(invoices.issue_day),
                "due_date": to_datetime64(invoices.due_day),
                "amount": _money(invoices.amount_cents),
                "currency": _labels(CURRENCIES, invoices.currency),
                "payment_method": _labels(PAYMENT_METHODS, invoices.payment_method),
                "channel": np.where(invoices.paper, PAPER, ELECTRONIC),
                "po_number_required": invoices.po_number_required,
            }
        ),
    }

    settlement = chunk.settlement
    payment_order = np.lexsort((settlement.payment_invoice, settlement.payment_day))
    frames["payments"] = pd.DataFrame(
        {
            "payment_id": _numbered(PAYMENT_ID, counters.payments, len(payment_order)),
            "invoice_id": invoice_id[settlement.payment_invoice[payment_order]],
            "paid_date": to_datetime64(settlement.payment_day[payment_order]),
            "amount": _money(settlement.payment_cents[payment_order]),
        }
    )

    disputes = chunk.disputes
    visible = np.flatnonzero(disputes.opened_day <= as_of)
    dispute_order = visible[np.lexsort((disputes.invoice[visible], disputes.opened_day[visible]))]
    disputed_invoice = disputes.invoice[dispute_order]
    frames["disputes"] = pd.DataFrame(
        {
            "dispute_id": _numbered(DISPUTE_ID, counters.disputes, len(dispute_order)),
            "invoice_id": invoice_id[disputed_invoice],
            "customer_id": invoice_customer_id[disputed_invoice],
            "opened_date": to_datetime64(disputes.opened_day[dispute_order]),
            "resolved_date": to_datetime64(chunk.dispute_resolved_day[dispute_order]),
            "reason": _labels(DISPUTE_REASONS, disputes.reason[dispute_order]),
        }
    )

    interactions = chunk.interactions
    interaction_order = np.lexsort((interactions.topic, interactions.customer, interactions.day))
    frames["interactions"] = pd.DataFrame(
        {
            "interaction_id": _numbered(
                INTERACTION_ID, counters.interactions, len(interaction_order)
            ),
            "customer_id": customer_id[interactions.customer[interaction_order]],
            "date": to_datetime64(interactions.day[interaction_order]),
            "channel": _labels(INTERACTION_CHANNELS, interactions.channel[interaction_order]),
            "topic": _labels(INTERACTION_TOPICS, interactions.topic[interaction_order]),
        }
    )

    # The outcome is only known for invoices fully paid by as_of.
    outcome_known = settlement.settled
    frames["truth"] = pd.DataFrame(
        {
            "invoice_id": invoice_id,
            "p_true": chunk.p_true,
            "is_late_true": pd.arrays.IntegerArray(chunk.late.astype(np.int8), mask=~outcome_known),
        }
    )
    return ChunkTables(frames)


def _customer_frame(customers: CustomerBatch, customer_id: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": customer_id,
            "name": customers.name,
            "email": customers.email,
            "industry": _labels(INDUSTRIES, customers.industry),
            "country": _labels(COUNTRIES, customers.country),
            "segment": _labels(SEGMENTS, customers.segment),
            "credit_limit": customers.credit_limit,
            "payment_terms_days": customers.payment_terms_days,
            "customer_since": to_datetime64(customers.customer_since),
            "excluded_from_outreach": customers.excluded_from_outreach,
            "e_invoicing": customers.e_invoicing,
        }
    )
