"""Scores as ``predictions`` rows: every score is recorded with what it can be traced to.

A row holds the model version, the moment the score is as of, when it was made, a hash of the
feature row it was computed from, the probabilities, the tier and the reasons, so any score
can be explained and repeated later.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection

from latepay.db.tables import Prediction, as_utc, in_chunks, utcnow


def prediction_rows(
    scored: pd.DataFrame, *, moments: pd.Series, bucket_names: list[str]
) -> list[dict[str, Any]]:
    """One ``predictions`` row per scored invoice; ``moments`` is aligned with ``scored``."""
    scored_at = utcnow()
    as_of = [utc_moment(moment) for moment in pd.to_datetime(moments)]
    # Column by column: a dict per row from pandas costs more than the rest when few are scored.
    probabilities = [scored[f"p_{name}"].astype(float).tolist() for name in bucket_names]
    buckets = [
        dict(zip(bucket_names, row, strict=True)) for row in zip(*probabilities, strict=True)
    ]
    reasons = scored["reasons"].tolist() if "reasons" in scored else [None] * len(scored)
    return [
        {
            "invoice_id": invoice_id,
            "model_version": model_version,
            "as_of": moment,
            "scored_at": scored_at,
            "inputs_hash": inputs_hash,
            "p_late": p_late,
            "bucket_probabilities": bucket,
            "expected_days_late": expected_days_late,
            "risk_tier": risk_tier,
            "reasons": {"reasons": explained or []},
        }
        for (
            invoice_id,
            model_version,
            moment,
            inputs_hash,
            p_late,
            bucket,
            expected_days_late,
            risk_tier,
            explained,
        ) in zip(
            scored["invoice_id"].tolist(),
            scored["model_version"].tolist(),
            as_of,
            scored["inputs_hash"].tolist(),
            scored["p_late"].astype(float).tolist(),
            buckets,
            scored["expected_days_late"].astype(float).tolist(),
            scored["risk_tier"].tolist(),
            reasons,
            strict=True,
        )
    ]


def utc_moment(moment: pd.Timestamp) -> dt.datetime:
    """A moment of a day (a naive timestamp, as features use) as a UTC datetime."""
    return moment.to_pydatetime().replace(tzinfo=dt.UTC)


def latest_predictions(
    connection: Connection, invoice_ids: list[str], as_of: dt.date, *, reasons: bool = True
) -> dict[str, dict[str, Any]]:
    """Each invoice's newest prediction made as of ``as_of`` or earlier: p_late,
    expected_days_late, risk_tier, bucket_probabilities and the reasons' sentences (an empty
    list with ``reasons=False``, which spares reading them)."""
    latest: dict[str, tuple[tuple, dict[str, Any]]] = {}
    reasons_column = Prediction.reasons if reasons else sa.null().label("reasons")
    for chunk in in_chunks(invoice_ids):
        rows = connection.execute(
            sa.select(
                Prediction.id,
                Prediction.invoice_id,
                Prediction.as_of,
                Prediction.scored_at,
                Prediction.p_late,
                Prediction.expected_days_late,
                Prediction.risk_tier,
                Prediction.bucket_probabilities,
                reasons_column,
            ).where(Prediction.invoice_id.in_(chunk))
        )
        for row in rows:
            if as_utc(row.as_of).date() > as_of:
                continue
            rank = (as_utc(row.scored_at), row.id)
            if row.invoice_id in latest and latest[row.invoice_id][0] > rank:
                continue
            explained = (row.reasons or {}).get("reasons") or []
            latest[row.invoice_id] = (
                rank,
                {
                    "p_late": row.p_late,
                    "expected_days_late": row.expected_days_late,
                    "risk_tier": row.risk_tier,
                    "bucket_probabilities": row.bucket_probabilities or {},
                    "reasons": [r.get("sentence") or r.get("feature", "") for r in explained],
                },
            )
    return {invoice_id: value for invoice_id, (_, value) in latest.items()}
