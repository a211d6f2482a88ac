"""Categorical vocabularies shared by the synthetic ledger generators.

Arrays inside the generator carry integer codes that index these tuples; the
labels only appear when tables are written.
"""

INDUSTRIES = (
    "manufacturing",
    "retail",
    "construction",
    "healthcare",
    "logistics",
    "software",
    "hospitality",
    "agriculture",
)
COUNTRIES = ("DE", "FR", "NL", "GB", "US", "ES")
SEGMENTS = ("enterprise", "mid-market", "small")
CURRENCIES = ("EUR", "USD", "GBP")
HOME_CURRENCY = {"DE": "EUR", "FR": "EUR", "NL": "EUR", "ES": "EUR", "GB": "GBP", "US": "USD"}
PAYMENT_METHODS = ("bank_transfer", "direct_debit", "card", "cheque")
INVOICE_CHANNELS = ("paper", "electronic")
DISPUTE_REASONS = ("pricing", "quantity", "quality", "missing_po", "duplicate")
INTERACTION_TOPICS = (
    "complaint",
    "billing_question",
    "address_change",
    "payment_promise",
    "general",
)
INTERACTION_CHANNELS = ("phone", "email", "portal")
