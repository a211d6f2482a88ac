"""Scores as ``predictions`` rows: every score is recorded with what it can be traced to.

A row holds the model version, the moment the score is as of, when it was made, a hash of the
feature row it was computed from, the probabilities, the tier and the reasons, so any score
can be explained and repeated later.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from latepay.db.tables import utcnow


def prediction_rows(
    scored: pd.DataFrame, *, moments: pd.Series, bucket_names: list[str]
) -> list[dict[str, Any]]:
    """One ``predictions`` row per scored invoice; ``moments`` is aligned with ``scored``."""
    scored_at = utcnow()
    as_of = [_utc(moment) for moment in pd.to_datetime(moments)]
    bucket_columns = [f"p_{name}" for name in bucket_names]
    return [
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
        for row, moment in zip(scored.to_dict("records"), as_of, strict=True)
    ]


def _utc(moment: pd.Timestamp) -> dt.datetime:
    return moment.to_pydatetime().replace(tzinfo=dt.UTC)
