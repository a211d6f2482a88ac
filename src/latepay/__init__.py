"""latepay: predict which invoices will be paid late, explain why, and act on it."""

__version__ = "0.1.0"
