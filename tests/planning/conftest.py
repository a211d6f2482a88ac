"""Small hand-made ledgers as the frames planning reads (see ``load_receivables``)."""

from __future__ import annotations

import pandas as pd

from latepay.planning.receivables import INVOICE_FRAME_COLUMNS


def invoice_frame(rows: list[dict]) -> pd.DataFrame:
    """Invoices from dicts with dates as text; missing fields get their defaults."""
    defaults = {"currency": "EUR", "settled_date": None, "is_credit_note": False}
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    for column in ("issue_date", "due_date", "settled_date"):
        frame[column] = pd.to_datetime(frame[column])
    frame["amount"] = frame["amount"].astype(float)
    return frame[INVOICE_FRAME_COLUMNS]


def payment_frame(rows: list[tuple[str, str, float]] | None = None) -> pd.DataFrame:
    """Payments from (invoice_id, paid_date, amount) tuples."""
    frame = pd.DataFrame(rows or [], columns=["invoice_id", "paid_date", "amount"])
    frame["paid_date"] = pd.to_datetime(frame["paid_date"])
    frame["amount"] = frame["amount"].astype(float)
    return frame
