"""Customer master data and the hidden traits that drive each customer's billing.

Public attributes are written to ``customers``; hidden traits (billing
frequency, typical invoice size, purchase-order policy, preferred payment
method) only shape the invoices.
"""

from dataclasses import dataclass

import numpy as np

from latepay.synthetic.timeline import MonthGrid
from latepay.synthetic.vectorised import concat_strings, draw_categorical, format_ids
from latepay.synthetic.vocabulary import (
    COUNTRIES,
    CURRENCIES,
    HOME_CURRENCY,
    INDUSTRIES,
    PAYMENT_METHODS,
    SEGMENTS,
)

SEGMENT_SHARES = {"enterprise": 0.12, "mid-market": 0.38, "small": 0.50}
COUNTRY_SHARES = {"DE": 0.30, "FR": 0.20, "NL": 0.12, "GB": 0.15, "US": 0.15, "ES": 0.08}
INDUSTRY_SHARES = {
    "manufacturing": 0.18,
    "retail": 0.15,
    "construction": 0.12,
    "healthcare": 0.10,
    "logistics": 0.13,
    "software": 0.12,
    "hospitality": 0.10,
    "agriculture": 0.10,
}

# Mean invoices per month; mid-market lands near 100 invoices over 36 months.
INVOICES_PER_MONTH = {"enterprise": 10.0, "mid-market": 3.1, "small": 1.2}
INVOICE_RATE_LOG_SD = 0.35
TYPICAL_INVOICE_AMOUNT = {"enterprise": 20_000.0, "mid-market": 4_000.0, "small": 700.0}
TYPICAL_AMOUNT_LOG_SD = 0.5
# Credit limits cover about this many months of typical billing.
CREDIT_LIMIT_BILLING_MONTHS = 2.0
CREDIT_LIMIT_LOG_SD = 0.3

PAYMENT_TERMS_OPTIONS = (14, 30, 45, 60)
PAYMENT_TERMS_SHARES = (0.10, 0.70, 0.12, 0.08)

JOINED_DURING_PERIOD_SHARE = 0.20
# Joiners arrive early enough in the period to build up some history.
LATEST_JOIN_FRACTION = 0.85
MAX_TENURE_YEARS = 15
EXCLUDED_FROM_OUTREACH_SHARE = 0.02
E_INVOICING_SHARE = {"enterprise": 0.60, "mid-market": 0.40, "small": 0.25}
REQUIRES_PO_SHARE = {"enterprise": 0.50, "mid-market": 0.25, "small": 0.08}

# Preferred method shares in PAYMENT_METHODS order: bank_transfer, direct_debit, card, cheque.
PREFERRED_METHOD_SHARES = {
    "enterprise": (0.72, 0.18, 0.02, 0.08),
    "mid-market": (0.60, 0.25, 0.05, 0.10),
    "small": (0.45, 0.25, 0.18, 0.12),
}
METHOD_SWITCH_SHARE = 0.10

NAME_STEMS = (
    "Nord",
    "Alpen",
    "Blue",
    "Silver",
    "Oak",
    "Atlas",
    "Delta",
    "Summit",
    "Harbor",
    "Rhein",
    "Iberia",
    "Meridian",
    "Polar",
    "Crown",
    "Granite",
    "Vector",
    "Lumen",
    "Orbit",
    "Pioneer",
    "Cedar",
)
NAME_ENDINGS = (
    "wind",
    "field",
    "stone",
    "bridge",
    "point",
    "line",
    "works",
    "gate",
    "ridge",
    "vale",
)
INDUSTRY_NAME_WORD = {
    "manufacturing": "Industries",
    "retail": "Stores",
    "construction": "Construction",
    "healthcare": "Health",
    "logistics": "Logistics",
    "software": "Software",
    "hospitality": "Hotels",
    "agriculture": "Farms",
}
LEGAL_FORM = {"DE": "GmbH", "FR": "SAS", "NL": "B.V.", "GB": "Ltd", "US": "Inc.", "ES": "S.L."}
EMAIL_ROLES = ("accounts", "ap", "billing", "finance", "invoices")
EMAIL_DOMAINS = ("example.com", "example.org")

CUSTOMER_ID_WIDTH = 6


@dataclass(frozen=True)
class CustomerBatch:
    """A block of consecutive customers; all arrays are aligned by customer.

    Category columns hold codes into the ``vocabulary`` tuples. Day columns are
    day numbers (see ``timeline``).
    """

    number: np.ndarray
    name: np.ndarray
    email: np.ndarray
    industry: np.ndarray
    country: np.ndarray
    segment: np.ndarray
    credit_limit: np.ndarray
    payment_terms_days: np.ndarray
    customer_since: np.ndarray
    excluded_from_outreach: np.ndarray
    e_invoicing: np.ndarray
    # Hidden traits.
    first_active_month: np.ndarray
    invoices_per_month: np.ndarray
    typical_log_amount: np.ndarray
    home_currency: np.ndarray
    requires_po: np.ndarray
    preferred_method: np.ndarray
    method_switch_month: np.ndarray
    later_method: np.ndarray

    @property
    def customer_id(self) -> np.ndarray:
        return format_ids("C", self.number, CUSTOMER_ID_WIDTH)


def _shares(shares: dict[str, float], vocabulary: tuple[str, ...]) -> np.ndarray:
    return np.array([shares[label] for label in vocabulary])


def generate_customers(
    rng: np.random.Generator, first_number: int, count: int, grid: MonthGrid
) -> CustomerBatch:
    """Generate ``count`` customers numbered from ``first_number``.

    Parameters
    ----------
    rng
        Random generator of this block of customers.
    first_number
        Number of the first customer (``C000001`` is number 1).
    count
        Number of customers in the block.
    grid
        The months of the period; some customers join during it.

    Returns
    -------
    CustomerBatch
        Public attributes and hidden billing traits.
    """
    number = np.arange(first_number, first_number + count, dtype=np.int64)
    segment = rng.choice(len(SEGMENTS), size=count, p=_shares(SEGMENT_SHARES, SEGMENTS))
    country = rng.choice(len(COUNTRIES), size=count, p=_shares(COUNTRY_SHARES, COUNTRIES))
    industry = rng.choice(len(INDUSTRIES), size=count, p=_shares(INDUSTRY_SHARES, INDUSTRIES))

    segment_rate = _shares(INVOICES_PER_MONTH, SEGMENTS)[segment]
    invoices_per_month = segment_rate * rng.lognormal(0.0, INVOICE_RATE_LOG_SD, count)
    typical_amount = _shares(TYPICAL_INVOICE_AMOUNT, SEGMENTS)[segment]
    typical_log_amount = np.log(typical_amount) + rng.normal(0.0, TYPICAL_AMOUNT_LOG_SD, count)
    monthly_billing = np.exp(typical_log_amount) * invoices_per_month
    credit_limit = np.maximum(
        1_000.0,
        np.round(
            CREDIT_LIMIT_BILLING_MONTHS
            * monthly_billing
            * rng.lognormal(0.0, CREDIT_LIMIT_LOG_SD, count),
            -3,
        ),
    )

    customer_since, first_active_month = _customer_since(rng, count, grid)

    preferred_method = draw_categorical(
        rng, np.array([PREFERRED_METHOD_SHARES[s] for s in SEGMENTS])[segment]
    )
    switches = rng.random(count) < METHOD_SWITCH_SHARE
    method_switch_month = np.where(switches, rng.integers(0, grid.months, count), grid.months)
    later_method = (preferred_method + rng.integers(1, len(PAYMENT_METHODS), count)) % len(
        PAYMENT_METHODS
    )

    home_currency_codes = np.array([CURRENCIES.index(HOME_CURRENCY[c]) for c in COUNTRIES])
    name, email = _names_and_emails(rng, number, industry, country)
    return CustomerBatch(
        number=number,
        name=name,
        email=email,
        industry=industry,
        country=country,
        segment=segment,
        credit_limit=credit_limit,
        payment_terms_days=rng.choice(PAYMENT_TERMS_OPTIONS, size=count, p=PAYMENT_TERMS_SHARES),
        customer_since=customer_since,
        excluded_from_outreach=rng.random(count) < EXCLUDED_FROM_OUTREACH_SHARE,
        e_invoicing=rng.random(count) < _shares(E_INVOICING_SHARE, SEGMENTS)[segment],
        first_active_month=first_active_month,
        invoices_per_month=invoices_per_month,
        typical_log_amount=typical_log_amount,
        home_currency=home_currency_codes[country],
        requires_po=rng.random(count) < _shares(REQUIRES_PO_SHARE, SEGMENTS)[segment],
        preferred_method=preferred_method,
        method_switch_month=method_switch_month,
        later_method=later_method,
    )


def _customer_since(
    rng: np.random.Generator, count: int, grid: MonthGrid
) -> tuple[np.ndarray, np.ndarray]:
    """Draw onboarding dates and the first grid month each customer is billed in."""
    joins_during_period = rng.random(count) < JOINED_DURING_PERIOD_SHARE
    days_before_start = rng.integers(1, MAX_TENURE_YEARS * 365, count)
    latest_join_offset = max(1, int(LATEST_JOIN_FRACTION * (grid.as_of - grid.first_day)))
    days_into_period = rng.integers(0, latest_join_offset, count)
    since = np.where(
        joins_during_period, grid.first_day + days_into_period, grid.first_day - days_before_start
    )
    # Billing starts the month after onboarding for joiners and at once for everyone else.
    first_active_month = np.where(joins_during_period, grid.month_index(since) + 1, 0)
    return since, first_active_month


def _names_and_emails(
    rng: np.random.Generator, number: np.ndarray, industry: np.ndarray, country: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Company names like ``Nordwind Logistics GmbH`` and unique accounts-payable emails."""
    count = len(number)
    brand = concat_strings(
        np.array(NAME_STEMS)[rng.integers(0, len(NAME_STEMS), count)],
        np.array(NAME_ENDINGS)[rng.integers(0, len(NAME_ENDINGS), count)],
    )
    industry_word = np.array([INDUSTRY_NAME_WORD[label] for label in INDUSTRIES])[industry]
    legal_form = np.array([LEGAL_FORM[label] for label in COUNTRIES])[country]
    name = concat_strings(brand, " ", industry_word, " ", legal_form)

    # The customer number in the local part keeps addresses unique.
    role = np.array(EMAIL_ROLES)[rng.integers(0, len(EMAIL_ROLES), count)]
    domain = np.array(EMAIL_DOMAINS)[rng.integers(0, len(EMAIL_DOMAINS), count)]
    email = concat_strings(role, ".", np.strings.lower(brand), number.astype(np.str_), "@", domain)
    return name, email
