"""Recording scores in ``predictions``: one moment per row, stored as SQLAlchemy stores it."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from tests.scoring.conftest import Scoring, new_invoices, write_csv

from latepay.db.tables import Prediction
from latepay.scoring import score_invoices
from latepay.scoring.batch import record_predictions
from latepay.scoring.files import read_invoice_file
from latepay.scoring.records import prediction_rows


def stored_rows(scoring: Scoring) -> list[dict]:
    with scoring.engine.connect() as connection:
        rows = connection.execute(sa.select(Prediction).order_by(Prediction.id)).mappings()
        return [{k: v for k, v in row.items() if k not in ("id", "scored_at")} for row in rows]


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
    scoring.forget_predictions()
    with scoring.engine.begin() as connection:
        rows = prediction_rows(scored, moments=moments, bucket_names=buckets)
        connection.execute(sa.insert(Prediction), rows)
    through_sqlalchemy = stored_rows(scoring)

    assert fast == through_sqlalchemy
    assert [row["as_of"].date() for row in fast] == list(moments.dt.date)
    assert all(len(row["reasons"]["reasons"]) <= 3 for row in fast)
    assert set(fast[0]["bucket_probabilities"]) == set(buckets)
