"""Simulation of one block of customers, in causal order.

Customers are independent of each other given the economy, so the ledger is
generated block by block with one random stream per block; memory then stays
bounded by the block size, whatever the number of customers.
"""

from dataclasses import dataclass

import numpy as np

from latepay.synthetic.customers import CustomerBatch, generate_customers
from latepay.synthetic.disputes import DisputeDraw, draw_disputes, resolved_days
from latepay.synthetic.economy import Economy
from latepay.synthetic.interactions import (
    InteractionBatch,
    simulate_payment_promises,
    simulate_service_contacts,
)
from latepay.synthetic.invoices import InvoiceBatch, issue_invoices
from latepay.synthetic.lateness import (
    draw_days_late,
    gather_drivers,
    late_probability,
    late_probability_at_issuance,
)
from latepay.synthetic.regime import shake_reliability
from latepay.synthetic.reliability import simulate_reliability
from latepay.synthetic.settlement import Settlement, settle_invoices
from latepay.synthetic.timeline import MonthGrid


@dataclass(frozen=True)
class SimulatedChunk:
    """Everything simulated for one block of customers.

    Attributes
    ----------
    p_true
        Late probability of each invoice (NaN for credit notes).
    late
        Drawn outcome of each invoice (False for credit notes).
    dispute_resolved_day
        Resolution day of each dispute, or ``NOT_A_DAY`` if still open.
    """

    customers: CustomerBatch
    invoices: InvoiceBatch
    p_true: np.ndarray
    late: np.ndarray
    settlement: Settlement
    disputes: DisputeDraw
    dispute_resolved_day: np.ndarray
    interactions: InteractionBatch


def simulate_chunk(
    rng: np.random.Generator,
    first_number: int,
    count: int,
    grid: MonthGrid,
    economy: Economy,
    *,
    regime_rng: np.random.Generator | None = None,
) -> SimulatedChunk:
    """Simulate customers ``first_number`` to ``first_number + count - 1`` over the period.

    Parameters
    ----------
    rng
        Random stream of this block.
    first_number
        Number of the block's first customer.
    count
        Number of customers in the block.
    grid
        The months of the period.
    economy
        Published indicators shared by all blocks.
    regime_rng
        Random stream of the downturn's regime change (:mod:`latepay.synthetic.regime`);
        None leaves the regime change off.

    Returns
    -------
    SimulatedChunk
        The block's customers, invoices, outcomes, payments, disputes and
        interactions, including events after ``as_of`` that tables must hide.
    """
    customers = generate_customers(rng, first_number, count, grid)
    reliability = simulate_reliability(rng, customers.segment, customers.industry, grid.months)
    if regime_rng is not None:
        reliability = shake_reliability(regime_rng, reliability, customers.industry, economy)
    contacts = simulate_service_contacts(rng, customers, reliability, grid)
    invoices = issue_invoices(rng, customers, grid)
    disputes = draw_disputes(rng, invoices, reliability.logit[invoices.customer, invoices.month])

    drivers = gather_drivers(
        invoices,
        customers,
        reliability,
        economy,
        disputes,
        contacts,
        regime_change=regime_rng is not None,
    )
    # Outcomes follow the invoice's actual dispute; the truth file reports what was knowable.
    late = rng.random(len(invoices)) < late_probability(drivers)
    late &= ~invoices.is_credit_note
    p_true = np.where(
        invoices.is_credit_note,
        np.nan,
        late_probability_at_issuance(drivers, disputes.probability),
    )
    days_late = draw_days_late(rng, drivers)

    earliest_payment_day = invoices.issue_day.copy()
    earliest_payment_day[disputes.invoice] = disputes.opened_day + 1
    settlement = settle_invoices(rng, invoices, late, days_late, earliest_payment_day, grid.as_of)

    promises = simulate_payment_promises(
        rng, invoices.customer[late], invoices.due_day[late], days_late[late], grid.as_of
    )
    return SimulatedChunk(
        customers=customers,
        invoices=invoices,
        p_true=p_true,
        late=late,
        settlement=settlement,
        disputes=disputes,
        dispute_resolved_day=resolved_days(
            disputes, settlement.final_payment_day[disputes.invoice], grid.as_of
        ),
        interactions=InteractionBatch.concatenate([contacts, promises]),
    )
