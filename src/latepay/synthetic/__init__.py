"""Synthetic B2B accounts-receivable ledgers with a known late-payment model."""

from latepay.synthetic.ledger import LedgerSummary, generate_ledger

__all__ = ["LedgerSummary", "generate_ledger"]
