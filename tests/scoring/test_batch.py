"""Recording scores in ``predictions``: one moment per row, stored as SQLAlchemy stores it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from tests.scoring.conftest import Scoring, new_invoices, write_csv

from latepay.db.tables import Prediction, WebhookDelivery
from latepay.scoring import score_invoices
from latepay.scoring.batch import open_invoices, record_predictions, score_and_record
from latepay.scoring.files import read_invoice_file
from latepay.scoring.records import prediction_rows
from latepay.webhooks import subscribe, unsubscribe


def stored_rows(scoring: Scoring) -> list[dict]:
    with scoring.engine.connect() as connection:
        rows = connection.execute(sa.select(Prediction).order_by(Prediction.id)).mappings()
        return [{k: v for k, v in row.items() if k not in ("id", "scored_at")} for row in rows]


def stored_text(scoring: Scoring) -> list[tuple]:
    """The values as the database holds them (JSON and moments as text), not read back."""
    with scoring.engine.connect() as connection:
        query = "SELECT as_of, bucket_probabilities, reasons FROM predictions ORDER BY id"
        return [tuple(row) for row in connection.execute(sa.text(query))]


def test_recorded_scores_read_back_as_written_through_sqlalchemy(
    scoring: Scoring, tmp_path: Path
) -> None:
    path = write_csv(new_invoices(scoring.ledger, count=9), tmp_path / "new.csv")
    invoices = read_invoice_file(path, scoring.model).invoices
    scored = score_invoices(scoring.model, scoring.ledger, invoices, reasons=3)
    moments = invoices["issue_date"]
    buckets = scoring.model.spec_.bucket_names

    record_predictions(scoring.engine, scored, moments=moments, bucket_names=buckets)
    fast = stored_rows(scoring)
    fast_text = stored_text(scoring)
    scoring.forget_predictions()
    with scoring.engine.begin() as connection:
        rows = prediction_rows(scored, moments=moments, bucket_names=buckets)
        connection.execute(sa.insert(Prediction), rows)
    through_sqlalchemy = stored_rows(scoring)

    assert fast == through_sqlalchemy
    assert fast_text == stored_text(scoring)
    assert [row["as_of"].date() for row in fast] == list(moments.dt.date)
    assert all(len(row["reasons"]["reasons"]) <= 3 for row in fast)
    assert set(fast[0]["bucket_probabilities"]) == set(buckets)


def test_rescoring_announces_tier_changes_to_subscribers(scoring: Scoring, tmp_path: Path) -> None:
    subscription = subscribe(scoring.engine, "https://crm.example.com/hooks")
    try:
        open_now = open_invoices(scoring.ledger, scoring.ledger.as_of)
        moments = pd.Series(scoring.ledger.as_of, index=open_now.index)
        scored = score_invoices(scoring.model, scoring.ledger, open_now, moments=moments)
        # Pretend each was last scored in another tier, so every one of them changed tier.
        other = {"low": "medium", "medium": "low", "high": "medium", "critical": "high"}
        earlier = scored.assign(risk_tier=scored["risk_tier"].map(other))
        buckets = scoring.model.spec_.bucket_names
        with scoring.engine.begin() as connection:
            connection.execute(
                sa.insert(Prediction),
                prediction_rows(earlier, moments=moments, bucket_names=buckets),
            )
        score_and_record(
            scoring.engine,
            scoring.model,
            scoring.ledger,
            open_now,
            moments=moments,
            tier_cutoffs=(0.25, 0.5, 0.75),
            output=tmp_path / "scores.csv",
        )
        with scoring.engine.connect() as connection:
            events = connection.execute(
                sa.select(WebhookDelivery.event_type, WebhookDelivery.payload)
            ).all()
        changed = [p["data"] for t, p in events if t == "invoice.tier_changed"]
        assert sorted(d["invoice_id"] for d in changed) == sorted(open_now["invoice_id"])
        assert all(d["customer_id"] for d in changed)
    finally:
        unsubscribe(scoring.engine, subscription.id)
        with scoring.engine.begin() as connection:
            connection.execute(sa.delete(WebhookDelivery))
