"""What-if: score an invoice and variations of its terms, storing nothing.

A billing clerk or collector can see, before an invoice goes out, how P(late) moves with a
shorter term, a smaller amount or another payment method. Every variation is scored as of the
same moment as the invoice itself, against the same history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from latepay.features import Ledger
from latepay.models.training import LateModel
from latepay.scoring.score import score_invoices

CHANGEABLE = ("amount", "due_date", "payment_terms_days", "currency", "payment_method", "channel")


def score_variations(
    model: LateModel,
    ledger: Ledger,
    invoice: pd.Series,
    changes: Sequence[dict[str, Any]],
    *,
    tier_cutoffs: tuple[float, float, float],
) -> pd.DataFrame:
    """Score ``invoice`` (first row) and one row per set of ``changes``, as of its issue date.

    ``payment_terms_days`` in a change sets the due date that many days after the issue date.
    """
    frame = variations(invoice, changes)
    return score_invoices(model, ledger, frame, tier_cutoffs=tier_cutoffs, reasons=3)


def variations(invoice: pd.Series, changes: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """``invoice`` (first row) and one row per set of ``changes`` applied to it, unscored.

    Callers scoring many invoices at once concatenate these frames and score them in one call
    (each row is scored as of its issue date, so the result is the same).
    """
    unknown = sorted({k for change in changes for k in change} - set(CHANGEABLE))
    if unknown:
        raise ValueError(f"cannot vary {unknown}; only {list(CHANGEABLE)}")
    rows = [invoice.to_dict()]
    for change in changes:
        row = {**rows[0], **{k: v for k, v in change.items() if k != "payment_terms_days"}}
        if change.get("payment_terms_days") is not None:
            row["due_date"] = row["issue_date"] + pd.Timedelta(days=change["payment_terms_days"])
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("issue_date", "due_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[s]")
    return frame
