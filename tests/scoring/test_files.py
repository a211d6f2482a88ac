"""``latepay score FILE``: reading a file of new invoices, scoring it, recording the scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from tests.scoring.conftest import Scoring, new_invoices, write_csv

from latepay.errors import InputError
from latepay.scoring import score_invoices
from latepay.scoring.batch import score_and_record
from latepay.scoring.files import read_invoice_file, score_invoice_file

TIERS = (0.25, 0.5, 0.75)
OUTPUT_COLUMNS = [
    "invoice_id",
    "p_late",
    "p_on_time",
    "p_late_1_30",
    "p_late_31_plus",
    "expected_days_late",
    "risk_tier",
    "model_version",
    "inputs_hash",
    "reasons",
]


def score_file(scoring: Scoring, path: Path, output: Path, **options) -> pd.DataFrame:
    invoice_file = read_invoice_file(path, scoring.model, **options)
    result = score_invoice_file(
        scoring.engine,
        scoring.model,
        scoring.ledger,
        invoice_file,
        tier_cutoffs=TIERS,
        output=output,
    )
    scores = pd.read_csv(output, dtype={"invoice_id": str})
    assert result.scored == len(scores)
    return scores


def test_each_invoice_is_scored_as_of_its_issue_date_and_recorded(
    scoring: Scoring, tmp_path: Path
) -> None:
    invoices = new_invoices(scoring.ledger)
    scores = score_file(scoring, write_csv(invoices, tmp_path / "new.csv"), tmp_path / "out.csv")

    assert list(scores.columns) == OUTPUT_COLUMNS
    assert sorted(scores["invoice_id"]) == sorted(invoices["invoice_id"])
    assert (scores["model_version"] == "gbm-test").all()
    assert scores["reasons"].str.len().gt(0).all()
    # The one scoring path, as of each issue date (its default), gives the same answers.
    canonical = read_invoice_file(tmp_path / "new.csv", scoring.model).invoices
    direct = score_invoices(scoring.model, scoring.ledger, canonical, tier_cutoffs=TIERS)
    merged = scores.merge(direct, on="invoice_id", suffixes=("", "_direct"))
    np.testing.assert_allclose(merged["p_late"], merged["p_late_direct"], rtol=1e-12)
    assert (merged["inputs_hash"] == merged["inputs_hash_direct"]).all()

    recorded = scoring.predictions().set_index("invoice_id").loc[invoices["invoice_id"]]
    assert (
        pd.to_datetime(recorded["as_of"]).dt.strftime("%Y-%m-%d")
        == invoices["issue_date"].to_numpy()
    ).all()
    assert (recorded["model_version"] == "gbm-test").all()
    # The invoices of a file are scored, not stored.
    assert not scoring.ledger.invoices["invoice_id"].isin(invoices["invoice_id"]).any()


def test_a_file_read_through_a_mapping_scores_like_the_canonical_one(
    scoring: Scoring, tmp_path: Path
) -> None:
    invoices = new_invoices(scoring.ledger)
    canonical = score_file(
        scoring, write_csv(invoices, tmp_path / "new.csv"), tmp_path / "canonical.csv"
    )
    source_names = {
        "invoice_id": "DOC_NO",
        "customer_id": "CUST_NO",
        "issue_date": "DOC_DATE",
        "amount": "AMT_DOC_CUR",
        "currency": "DOC_CUR",
        "payment_method": "PAY_METHOD",
        "channel": "CHANNEL",
    }
    export = invoices.rename(columns=source_names).drop(columns="due_date")
    export["DOC_DATE"] = pd.to_datetime(export["DOC_DATE"]).dt.strftime("%d.%m.%Y")
    export["TERMS"] = "30"
    mapping = tmp_path / "mapping.yaml"
    invoices_section = {
        "path": "ignored.csv",
        "columns": {**source_names, "payment_terms_days": "TERMS"},
        "date_formats": {"issue_date": "%d.%m.%Y"},
        "features": ["po_number_required"],
    }
    mapping.write_text(yaml.safe_dump({"invoices": invoices_section}), encoding="utf-8")
    mapped = score_file(
        scoring,
        write_csv(export, tmp_path / "export.csv"),
        tmp_path / "mapped.csv",
        mapping=mapping,
    )
    pd.testing.assert_frame_equal(mapped, canonical)


def test_bad_rows_are_named_by_line_and_column_and_nothing_is_scored(
    scoring: Scoring, tmp_path: Path
) -> None:
    invoices = new_invoices(scoring.ledger)
    invoices.loc[1, "issue_date"] = "2024-13-45"  # line 3: the header is line 1
    invoices.loc[3, "amount"] = ""
    invoices.loc[5, "invoice_id"] = invoices.loc[4, "invoice_id"]
    path = write_csv(invoices, tmp_path / "bad.csv")

    with pytest.raises(InputError) as error:
        read_invoice_file(path, scoring.model)

    message = str(error.value)
    assert "3 rows cannot be scored" in message
    assert "bad.csv:3: column issue_date value '2024-13-45'" in message
    assert "bad.csv:5: column amount value '': empty, but amount is required" in message
    assert "bad.csv:7: column invoice_id value 'NEW0004': duplicate" in message
    assert "(first on line 6)" in message
    assert "\n" not in message
    assert scoring.predictions().empty


def test_a_feature_the_model_was_trained_with_must_be_in_the_file(
    scoring: Scoring, tmp_path: Path
) -> None:
    invoices = new_invoices(scoring.ledger).drop(columns="po_number_required")
    path = write_csv(invoices, tmp_path / "new.csv")
    assert "inv_po_number_required" in scoring.model.schema_.columns

    with pytest.raises(InputError, match=r"no column 'po_number_required' \(an invoice feature"):
        read_invoice_file(path, scoring.model)


def test_a_required_column_must_be_in_the_file(scoring: Scoring, tmp_path: Path) -> None:
    invoices = new_invoices(scoring.ledger).drop(columns="due_date")
    path = write_csv(invoices, tmp_path / "new.csv")

    with pytest.raises(InputError, match="no column due_date or payment_terms_days"):
        read_invoice_file(path, scoring.model)


def test_a_mapping_must_declare_the_model_features(scoring: Scoring, tmp_path: Path) -> None:
    path = write_csv(new_invoices(scoring.ledger), tmp_path / "new.csv")
    mapping = tmp_path / "mapping.yaml"
    columns = {name: name for name in ("invoice_id", "customer_id", "issue_date", "due_date")}
    section = {"path": "new.csv", "columns": {**columns, "amount": "amount"}}
    mapping.write_text(yaml.safe_dump({"invoices": section}), encoding="utf-8")

    with pytest.raises(InputError, match="'po_number_required', which the invoices section"):
        read_invoice_file(path, scoring.model, mapping=mapping)


def test_credit_notes_are_counted_and_not_scored(scoring: Scoring, tmp_path: Path) -> None:
    invoices = new_invoices(scoring.ledger)
    invoices.loc[2, "amount"] = "-300.00"

    invoice_file = read_invoice_file(write_csv(invoices, tmp_path / "new.csv"), scoring.model)

    assert invoice_file.credit_notes == 1
    assert len(invoice_file.invoices) == len(invoices) - 1
    assert "1 row has a negative amount" in invoice_file.warnings[0]


def test_scoring_in_chunks_changes_no_score(scoring: Scoring, tmp_path: Path) -> None:
    invoices = read_invoice_file(
        write_csv(new_invoices(scoring.ledger, count=30), tmp_path / "new.csv"), scoring.model
    ).invoices
    outputs = {}
    for chunk_rows in (4, 1000):
        output = tmp_path / f"chunks-{chunk_rows}.csv"
        score_and_record(
            scoring.engine,
            scoring.model,
            scoring.ledger,
            invoices,
            moments=invoices["issue_date"],
            tier_cutoffs=TIERS,
            output=output,
            chunk_rows=chunk_rows,
        )
        outputs[chunk_rows] = pd.read_csv(output).sort_values("invoice_id", ignore_index=True)

    pd.testing.assert_frame_equal(outputs[4], outputs[1000])
    assert len(scoring.predictions()) == 2 * len(invoices)


def test_a_file_without_invoices_gives_the_header_alone(scoring: Scoring, tmp_path: Path) -> None:
    invoices = new_invoices(scoring.ledger).iloc[:0]

    scores = score_file(scoring, write_csv(invoices, tmp_path / "new.csv"), tmp_path / "out.csv")

    assert list(scores.columns) == OUTPUT_COLUMNS
    assert scores.empty
    assert scoring.predictions().empty


def test_a_row_with_more_fields_than_the_header_is_named_by_its_line(
    scoring: Scoring, tmp_path: Path
) -> None:
    path = write_csv(new_invoices(scoring.ledger, count=4), tmp_path / "ragged.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += ",one too many"  # line 3: the header is line 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(InputError) as error:
        read_invoice_file(path, scoring.model)

    assert "ragged.csv: 1 row cannot be scored, so none was" in str(error.value)
    assert "ragged.csv:3:" in str(error.value)
    assert "fields but the header has" in str(error.value)
