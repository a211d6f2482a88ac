"""The import report: counts, readable errors, JSON for ``latepay import --json``."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine
from tests.ingest.conftest import INVOICES_CSV, Exports

from latepay.ingest import EntityCounts, ImportReport, RowError, import_mapping


def test_a_row_error_reads_as_file_line_column_value_and_reason() -> None:
    error = RowError("invoices.csv", 17, "DUE_DATE", "2021-13-01", "not a date in format %Y-%m-%d")

    assert str(error) == (
        "invoices.csv:17: column DUE_DATE value '2021-13-01': not a date in format %Y-%m-%d"
    )
    assert str(RowError("a.csv", 3, "", "x,y", "has 2 fields")) == "a.csv:3: has 2 fields"


def test_ok_and_nothing_changed_follow_the_counts() -> None:
    quiet = ImportReport(entities={"invoices": EntityCounts(file=Path("i.csv"), unchanged=5)})
    settled = ImportReport(
        entities={"payments": EntityCounts(file=Path("p.csv"), unchanged=5, settlements_changed=1)}
    )
    skipped = ImportReport(entities={"payments": EntityCounts(file=Path("p.csv"), skipped=True)})

    assert quiet.ok and quiet.nothing_changed
    assert settled.ok and not settled.nothing_changed
    assert not skipped.ok


def test_the_report_is_json_ready(engine: Engine, exports: Exports) -> None:
    mapping = exports.ledger()
    exports.write("invoices.csv", INVOICES_CSV.replace("80.00", "eighty"))

    document = json.loads(json.dumps(import_mapping(engine, mapping).to_dict()))

    assert document["ok"] is False and document["nothing_changed"] is False
    assert document["entities"]["customers"]["inserted"] == 2
    assert document["entities"]["invoices"]["rejected"] == 1
    assert document["entities"]["invoices"]["file"] == str(exports.folder / "invoices.csv")
    assert document["entities"]["payments"]["skipped"] is True
    assert document["errors"] == [
        {
            "file": "invoices.csv",
            "line": 4,
            "column": "AMOUNT",
            "value": "eighty",
            "reason": "not a number",
        }
    ]
