"""Scores, as stored or as just computed, turned into the API's answer bodies."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from latepay.actions.recommend import recommended_action
from latepay.api.schemas import IssuedInvoice, RecordedScore, Score


def score_from_frame(row: dict[str, Any], *, bucket_names: list[str], as_of) -> Score:
    """A row of :func:`latepay.scoring.score_invoices`' frame as a score answer."""
    return Score(
        invoice_id=row.get("invoice_id"),
        p_late=float(row["p_late"]),
        bucket_probabilities={name: float(row[f"p_{name}"]) for name in bucket_names},
        expected_days_late=float(row["expected_days_late"]),
        risk_tier=row["risk_tier"],
        reasons=_reasons(row.get("reasons")),
        recommended_action=recommended_action(row["risk_tier"]).to_dict(),
        model_version=row["model_version"],
        as_of=pd.Timestamp(as_of).date(),
    )


def recorded_score(record: dict[str, Any]) -> RecordedScore:
    """A ``predictions`` row as a score answer."""
    return RecordedScore(**_recorded_fields(record))


def issued_from_record(record: dict[str, Any], *, created: bool) -> IssuedInvoice:
    """A ``predictions`` row as the answer to a posted invoice."""
    # Straight into the answer: by way of a RecordedScore, each answer would be validated and
    # dumped once more.
    return IssuedInvoice(**_recorded_fields(record), created=created)


def _recorded_fields(record: dict[str, Any]) -> dict[str, Any]:
    stored_reasons = record.get("reasons") or {}
    return {
        "invoice_id": record["invoice_id"],
        "p_late": record["p_late"],
        "bucket_probabilities": record["bucket_probabilities"],
        "expected_days_late": record["expected_days_late"],
        "risk_tier": record["risk_tier"],
        "reasons": _reasons(stored_reasons.get("reasons")),
        "recommended_action": recommended_action(record["risk_tier"]).to_dict(),
        "model_version": record["model_version"],
        "as_of": record["as_of"].date(),
        "scored_at": _utc(record["scored_at"]),
    }


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive timestamps; every timestamp latepay writes is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _reasons(reasons: list[dict] | None) -> list[dict]:
    return [{**r, "value": _json_safe(r.get("value"))} for r in reasons or []]


def _json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON; a missing feature value is reported as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
