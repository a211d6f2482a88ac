"""Invoice issuance: when customers are billed, how much, and on what terms."""

from dataclasses import dataclass

import numpy as np

from latepay.synthetic.customers import PAYMENT_TERMS_OPTIONS, CustomerBatch
from latepay.synthetic.timeline import MonthGrid
from latepay.synthetic.vocabulary import CURRENCIES, PAYMENT_METHODS

# Billing volume by calendar month (January first): busy Q4, quiet August and
# December holidays.
SEASONALITY = np.array([0.95, 1.00, 1.05, 1.00, 1.00, 1.00, 0.95, 0.65, 1.05, 1.15, 1.20, 0.85])
WEEKEND_ISSUE_WEIGHT = 0.04
MONTH_END_ISSUE_WEIGHT = 1.8

AMOUNT_LOG_SD = 0.6
MINIMUM_AMOUNT_CENTS = 100
CREDIT_NOTE_SHARE = 0.005
# Credit notes refund part of a delivery, so they are smaller than invoices.
CREDIT_NOTE_LOG_DISCOUNT = 1.5
CREDIT_NOTE_LOG_SD = 0.5

TERMS_OVERRIDE_SHARE = 0.06
TERMS_OVERRIDE_SHARES = (0.30, 0.30, 0.25, 0.15)
OFF_PREFERRED_METHOD_SHARE = 0.04
FOREIGN_CURRENCY_SHARE = 0.03
PAPER_SHARE_WITH_E_INVOICING = 0.05
PAPER_SHARE_WITHOUT_E_INVOICING = 0.55
PO_REQUIRED_SHARE_WHEN_POLICY = 0.90
PO_REQUIRED_SHARE_OTHERWISE = 0.03


@dataclass(frozen=True)
class InvoiceBatch:
    """Invoices of a block of customers, ordered by issue day then customer.

    Attributes
    ----------
    customer
        Position of the billed customer within its ``CustomerBatch``.
    month
        Grid month of issuance.
    amount_cents
        Signed amount in cents; negative for credit notes.
    relative_log_amount
        Log amount minus the customer's typical log amount (0 for credit notes).
    paper
        True for paper invoices, False for electronic ones.
    """

    customer: np.ndarray
    month: np.ndarray
    issue_day: np.ndarray
    due_day: np.ndarray
    terms_days: np.ndarray
    amount_cents: np.ndarray
    relative_log_amount: np.ndarray
    currency: np.ndarray
    payment_method: np.ndarray
    paper: np.ndarray
    po_number_required: np.ndarray
    month_end: np.ndarray
    quarter_end: np.ndarray

    def __len__(self) -> int:
        return len(self.customer)

    @property
    def is_credit_note(self) -> np.ndarray:
        return self.amount_cents < 0


def issue_invoices(
    rng: np.random.Generator, customers: CustomerBatch, grid: MonthGrid
) -> InvoiceBatch:
    """Issue the invoices of a block of customers over the whole period.

    Monthly invoice counts are Poisson with the customer's rate times the
    seasonal factor; days within a month favour working days and month-end.

    Parameters
    ----------
    rng
        Random generator of this block of customers.
    customers
        The billed customers.
    grid
        The months of the period.

    Returns
    -------
    InvoiceBatch
        The invoices, ordered by issue day then customer.
    """
    months = grid.months
    active = np.arange(months)[None, :] >= customers.first_active_month[:, None]
    rate = customers.invoices_per_month[:, None] * SEASONALITY[grid.calendar_months - 1][None, :]
    counts = rng.poisson(rate * active)
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    customer, month = np.divmod(cell, months)
    issue_day = grid.sample_days(
        rng, month, weekend_weight=WEEKEND_ISSUE_WEIGHT, month_end_weight=MONTH_END_ISSUE_WEIGHT
    )
    order = np.lexsort((customer, issue_day))
    customer, month, issue_day = customer[order], month[order], issue_day[order]
    count = len(customer)

    usual_terms = customers.payment_terms_days[customer]
    override = rng.random(count) < TERMS_OVERRIDE_SHARE
    terms = np.where(
        override,
        rng.choice(PAYMENT_TERMS_OPTIONS, size=count, p=TERMS_OVERRIDE_SHARES),
        usual_terms,
    )

    amount_cents, relative_log_amount = _amounts(rng, customers.typical_log_amount[customer])

    usual_method = np.where(
        month >= customers.method_switch_month[customer],
        customers.later_method[customer],
        customers.preferred_method[customer],
    )
    off_preferred = rng.random(count) < OFF_PREFERRED_METHOD_SHARE
    other_method = (usual_method + rng.integers(1, len(PAYMENT_METHODS), count)) % len(
        PAYMENT_METHODS
    )

    home_currency = customers.home_currency[customer]
    foreign = rng.random(count) < FOREIGN_CURRENCY_SHARE
    other_currency = (home_currency + rng.integers(1, len(CURRENCIES), count)) % len(CURRENCIES)

    paper_share = np.where(
        customers.e_invoicing[customer],
        PAPER_SHARE_WITH_E_INVOICING,
        PAPER_SHARE_WITHOUT_E_INVOICING,
    )
    po_share = np.where(
        customers.requires_po[customer], PO_REQUIRED_SHARE_WHEN_POLICY, PO_REQUIRED_SHARE_OTHERWISE
    )

    return InvoiceBatch(
        customer=customer,
        month=month,
        issue_day=issue_day,
        due_day=issue_day + terms,
        terms_days=terms,
        amount_cents=amount_cents,
        relative_log_amount=relative_log_amount,
        currency=np.where(foreign, other_currency, home_currency),
        payment_method=np.where(off_preferred, other_method, usual_method),
        paper=rng.random(count) < paper_share,
        po_number_required=rng.random(count) < po_share,
        month_end=grid.is_month_end(issue_day, month),
        quarter_end=grid.is_quarter_end(issue_day, month),
    )


def _amounts(
    rng: np.random.Generator, typical_log_amount: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Lognormal invoice amounts in cents, a small share of them negative credit notes."""
    count = len(typical_log_amount)
    deviation = rng.normal(0.0, AMOUNT_LOG_SD, count)
    invoice_cents = np.maximum(
        MINIMUM_AMOUNT_CENTS, np.round(np.exp(typical_log_amount + deviation) * 100)
    )
    credit_log_amount = (
        typical_log_amount - CREDIT_NOTE_LOG_DISCOUNT + rng.normal(0.0, CREDIT_NOTE_LOG_SD, count)
    )
    credit_cents = np.maximum(MINIMUM_AMOUNT_CENTS, np.round(np.exp(credit_log_amount) * 100))
    credit_note = rng.random(count) < CREDIT_NOTE_SHARE
    amount_cents = np.where(credit_note, -credit_cents, invoice_cents).astype(np.int64)
    relative_log_amount = np.where(
        credit_note, 0.0, np.log(invoice_cents / 100) - typical_log_amount
    )
    return amount_cents, relative_log_amount
