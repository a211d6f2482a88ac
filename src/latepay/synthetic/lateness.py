"""The true late-payment model: probability of lateness and days late.

``late_probability`` is the oracle: the logistic model the generator draws
outcomes from. All its effect sizes (on the logit scale) live at the top of
this module. Every driver is observable to a model at issuance, directly
(invoice fields, indicators) or through history (reliability shows in past
lateness, disputes and complaints in their logs), except the dispute on the
invoice itself, which only becomes visible when it is opened.
"""

from dataclasses import dataclass, replace

import numpy as np

from latepay.synthetic.customers import CustomerBatch
from latepay.synthetic.disputes import DisputeDraw
from latepay.synthetic.economy import ACTIVITY_BASELINE, Economy
from latepay.synthetic.interactions import COMPLAINT, InteractionBatch
from latepay.synthetic.invoices import InvoiceBatch
from latepay.synthetic.regime import RATIONED_AMOUNT_EFFECT
from latepay.synthetic.reliability import ReliabilityPath
from latepay.synthetic.vectorised import count_events_in_window
from latepay.synthetic.vocabulary import PAYMENT_METHODS

INTERCEPT = -1.5
RELIABILITY_EFFECT = -1.0
PAYMENT_METHOD_EFFECT = {"bank_transfer": 0.0, "direct_debit": -1.6, "card": -0.4, "cheque": 0.8}
PAPER_EFFECT = 0.35
TERMS_EFFECT_PER_DAY_OVER_30 = 0.008
# Customers keep paying on their usual schedule when an invoice gives them less time.
TERMS_BELOW_USUAL_EFFECT = 0.4
RELATIVE_AMOUNT_EFFECT = 0.3
RELATIVE_AMOUNT_CLIP = 3.0
MONTH_END_EFFECT = 0.25
QUARTER_END_EFFECT = 0.2
ACTIVITY_EFFECT_PER_POINT_BELOW_BASELINE = 0.06
POLICY_RATE_EFFECT_PER_POINT = 0.04
DISPUTED_INVOICE_EFFECT = 1.6
RECENT_DISPUTE_EFFECT = 0.35
RECENT_DISPUTE_WINDOW_DAYS = 90
RECENT_DISPUTE_CAP = 2
RECENT_COMPLAINT_EFFECT = 0.3
RECENT_COMPLAINT_WINDOW_DAYS = 60
RECENT_COMPLAINT_CAP = 3
PO_NUMBER_REQUIRED_EFFECT = 0.35
E_INVOICING_EFFECT = -0.3

# Days late given late: a mixture of short (1-30) and long (31-180) delays;
# unreliable customers, disputes and weak industries make long delays likelier.
LONG_DELAY_INTERCEPT = -0.7
LONG_DELAY_RELIABILITY_EFFECT = -0.5
LONG_DELAY_DISPUTE_EFFECT = 0.8
LONG_DELAY_ACTIVITY_EFFECT_PER_POINT = 0.03
SHORT_DELAY_GAMMA = (1.3, 7.0)
LONG_DELAY_GAMMA = (1.4, 30.0)
SHORT_DELAY_MAX_DAYS = 30
LONG_DELAY_MAX_DAYS = 180


@dataclass(frozen=True)
class LatenessDrivers:
    """Per-invoice inputs of the late-payment model, aligned with an ``InvoiceBatch``."""

    reliability: np.ndarray
    payment_method: np.ndarray
    paper: np.ndarray
    terms_days: np.ndarray
    usual_terms_days: np.ndarray
    relative_log_amount: np.ndarray
    month_end: np.ndarray
    quarter_end: np.ndarray
    activity_index: np.ndarray
    policy_rate: np.ndarray
    disputed: np.ndarray
    recent_disputes: np.ndarray
    recent_complaints: np.ndarray
    po_number_required: np.ndarray
    e_invoicing: np.ndarray
    regime_stress: np.ndarray


def gather_drivers(
    invoices: InvoiceBatch,
    customers: CustomerBatch,
    reliability: ReliabilityPath,
    economy: Economy,
    disputes: DisputeDraw,
    contacts: InteractionBatch,
    *,
    regime_change: bool = False,
) -> LatenessDrivers:
    """Collect the model inputs of every invoice at its issue date.

    Parameters
    ----------
    invoices
        The invoices to score.
    customers
        Their customers.
    reliability
        Customer reliability paths; the value of the issue month is used.
    economy
        Published indicators; the issue month's values are used.
    disputes
        Disputes decided at issuance: the invoice's own dispute, and the
        customer's disputes opened in the recent past.
    contacts
        Service contacts; the customer's recent complaints count.
    regime_change
        Whether the downturn also changes how the hit industries pay (see
        :mod:`latepay.synthetic.regime`); without it ``regime_stress`` is zero.
    """
    customer = invoices.customer
    industry = customers.industry[customer]
    complaints = contacts.of_topic(COMPLAINT)
    disputed = np.zeros(len(invoices), dtype=bool)
    disputed[disputes.invoice] = True
    return LatenessDrivers(
        reliability=reliability.logit[customer, invoices.month],
        payment_method=invoices.payment_method,
        paper=invoices.paper,
        terms_days=invoices.terms_days,
        usual_terms_days=customers.payment_terms_days[customer],
        relative_log_amount=invoices.relative_log_amount,
        month_end=invoices.month_end,
        quarter_end=invoices.quarter_end,
        activity_index=economy.activity_index[industry, invoices.month],
        policy_rate=economy.policy_rate[invoices.month],
        disputed=disputed,
        recent_disputes=count_events_in_window(
            customer[disputes.invoice],
            disputes.opened_day,
            customer,
            invoices.issue_day,
            RECENT_DISPUTE_WINDOW_DAYS,
        ),
        recent_complaints=count_events_in_window(
            complaints.customer,
            complaints.day,
            customer,
            invoices.issue_day,
            RECENT_COMPLAINT_WINDOW_DAYS,
        ),
        po_number_required=invoices.po_number_required,
        e_invoicing=customers.e_invoicing[customer],
        regime_stress=(
            economy.downturn_stress[industry, invoices.month]
            if regime_change
            else np.zeros(len(invoices))
        ),
    )


def late_probability(drivers: LatenessDrivers) -> np.ndarray:
    """True probability that each invoice is paid after its due date.

    Parameters
    ----------
    drivers
        Model inputs per invoice.

    Returns
    -------
    numpy.ndarray
        Probabilities in ``(0, 1)``.
    """
    method_effect = np.array([PAYMENT_METHOD_EFFECT[label] for label in PAYMENT_METHODS])
    relative_amount = np.clip(
        drivers.relative_log_amount, -RELATIVE_AMOUNT_CLIP, RELATIVE_AMOUNT_CLIP
    )
    direct_debit = drivers.payment_method == PAYMENT_METHODS.index("direct_debit")
    logit = (
        INTERCEPT
        + RELIABILITY_EFFECT * drivers.reliability
        + method_effect[drivers.payment_method]
        + PAPER_EFFECT * drivers.paper
        + TERMS_EFFECT_PER_DAY_OVER_30 * (drivers.terms_days - 30)
        + TERMS_BELOW_USUAL_EFFECT * (drivers.terms_days < drivers.usual_terms_days)
        + RELATIVE_AMOUNT_EFFECT * relative_amount
        + MONTH_END_EFFECT * drivers.month_end
        + QUARTER_END_EFFECT * drivers.quarter_end
        + ACTIVITY_EFFECT_PER_POINT_BELOW_BASELINE * (ACTIVITY_BASELINE - drivers.activity_index)
        + POLICY_RATE_EFFECT_PER_POINT * drivers.policy_rate
        + DISPUTED_INVOICE_EFFECT * drivers.disputed
        + RECENT_DISPUTE_EFFECT * np.minimum(drivers.recent_disputes, RECENT_DISPUTE_CAP)
        + RECENT_COMPLAINT_EFFECT * np.minimum(drivers.recent_complaints, RECENT_COMPLAINT_CAP)
        + PO_NUMBER_REQUIRED_EFFECT * drivers.po_number_required
        + E_INVOICING_EFFECT * drivers.e_invoicing
        # Revoked mandates cancel direct debit's advantage at the downturn's full depth.
        + drivers.regime_stress
        * (
            RATIONED_AMOUNT_EFFECT * relative_amount
            - PAYMENT_METHOD_EFFECT["direct_debit"] * direct_debit
        )
    )
    return 1.0 / (1.0 + np.exp(-logit))


def late_probability_at_issuance(
    drivers: LatenessDrivers, dispute_probability: np.ndarray
) -> np.ndarray:
    """The best probability of lateness anyone could state at issuance.

    Whether the invoice will be disputed is drawn at issuance but seen only when the dispute
    is opened, so the probability knowable at issuance averages over it. This is what
    ``truth.csv`` reports: the yardstick a model scoring at issuance can at best reach.
    """
    disputed = late_probability(replace(drivers, disputed=np.ones_like(drivers.disputed)))
    undisputed = late_probability(replace(drivers, disputed=np.zeros_like(drivers.disputed)))
    return dispute_probability * disputed + (1.0 - dispute_probability) * undisputed


def draw_days_late(rng: np.random.Generator, drivers: LatenessDrivers) -> np.ndarray:
    """Days after the due date each invoice would be paid if it is late.

    Parameters
    ----------
    rng
        Random generator of this block of customers.
    drivers
        Model inputs per invoice.

    Returns
    -------
    numpy.ndarray
        Days late in ``[1, LONG_DELAY_MAX_DAYS]`` for every invoice; only used
        for invoices drawn late.
    """
    count = len(drivers.reliability)
    long_logit = (
        LONG_DELAY_INTERCEPT
        + LONG_DELAY_RELIABILITY_EFFECT * drivers.reliability
        + LONG_DELAY_DISPUTE_EFFECT * drivers.disputed
        + LONG_DELAY_ACTIVITY_EFFECT_PER_POINT * (ACTIVITY_BASELINE - drivers.activity_index)
    )
    long_delay = rng.random(count) < 1.0 / (1.0 + np.exp(-long_logit))
    short_days = 1 + np.minimum(
        np.floor(rng.gamma(*SHORT_DELAY_GAMMA, count)), SHORT_DELAY_MAX_DAYS - 1
    )
    long_days = (
        SHORT_DELAY_MAX_DAYS
        + 1
        + np.minimum(
            np.floor(rng.gamma(*LONG_DELAY_GAMMA, count)),
            LONG_DELAY_MAX_DAYS - SHORT_DELAY_MAX_DAYS - 1,
        )
    )
    return np.where(long_delay, long_days, short_days).astype(np.int64)
