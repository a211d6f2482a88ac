"""Score every open invoice of the database with the champion, and record each score.

Every score is written to ``predictions`` with the model version, the moment it is as of and
a hash of the features it was computed from, so a score can always be traced and repeated.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.tables import Prediction, utcnow
from latepay.features import Ledger
from latepay.models.training import LateModel
from latepay.scoring.score import score_invoices

RECORD_CHUNK_ROWS = 50_000


def open_invoices(ledger: Ledger, as_of: pd.Timestamp) -> pd.DataFrame:
    """Invoices issued before ``as_of`` and not settled before it (credit notes excluded)."""
    invoices = ledger.invoices
    settled = invoices["settled_date"]
    is_open = (invoices["issue_date"] < as_of) & (settled.isna() | (settled >= as_of))
    return invoices[is_open & ~invoices["is_credit_note"]]


def score_open_invoices(
    engine: Engine,
    model: LateModel,
    ledger: Ledger,
    *,
    as_of: pd.Timestamp,
    tier_cutoffs: tuple[float, float, float],
) -> pd.DataFrame:
    """Score the open invoices as of ``as_of`` and record the scores in ``predictions``."""
    invoices = open_invoices(ledger, as_of)
    moments = pd.Series(as_of, index=invoices.index)
    scored = score_invoices(
        model, ledger, invoices, moments=moments, tier_cutoffs=tier_cutoffs, reasons=3
    )
    record_predictions(engine, scored, as_of=as_of, bucket_names=model.spec_.bucket_names)
    return scored


def record_predictions(
    engine: Engine, scored: pd.DataFrame, *, as_of: pd.Timestamp, bucket_names: list[str]
) -> None:
    """Append one ``predictions`` row per scored invoice."""
    scored_at = utcnow()
    moment = as_of.to_pydatetime().replace(tzinfo=scored_at.tzinfo)
    bucket_columns = [f"p_{name}" for name in bucket_names]
    rows = [
        {
            "invoice_id": row["invoice_id"],
            "model_version": row["model_version"],
            "as_of": moment,
            "scored_at": scored_at,
            "inputs_hash": row["inputs_hash"],
            "p_late": float(row["p_late"]),
            "bucket_probabilities": {c.removeprefix("p_"): float(row[c]) for c in bucket_columns},
            "expected_days_late": float(row["expected_days_late"]),
            "risk_tier": row["risk_tier"],
            "reasons": {"reasons": row.get("reasons") or []},
        }
        for row in scored.to_dict("records")
    ]
    with engine.begin() as connection:
        for start in range(0, len(rows), RECORD_CHUNK_ROWS):
            connection.execute(sa.insert(Prediction), rows[start : start + RECORD_CHUNK_ROWS])
