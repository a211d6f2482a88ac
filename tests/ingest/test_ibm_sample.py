"""The real IBM accounts-receivable sample, through examples/ibm-ar/mapping.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.conftest import SHARED_DATA
from tests.ingest.conftest import count, stored

from latepay.ingest import import_mapping

MAPPING = Path(__file__).resolve().parents[2] / "examples" / "ibm-ar" / "mapping.yaml"
SAMPLE = SHARED_DATA / "ibm_ar" / "WA_Fn-UseC_-Accounts-Receivable.csv"

pytestmark = pytest.mark.skipif(
    not SAMPLE.is_file(), reason=f"the IBM sample is not at {SAMPLE} (shared/ beside the repo)"
)


def test_the_ibm_sample_imports_and_reimports_unchanged(engine: Engine) -> None:
    first = import_mapping(engine, MAPPING)
    again = import_mapping(engine, MAPPING)

    assert first.ok, first.errors
    assert {name: c.inserted for name, c in first.entities.items()} == {
        "customers": 100,
        "invoices": 2466,
        "disputes": 561,
    }
    assert again.ok and again.nothing_changed
    assert {name: c.unchanged for name, c in again.entities.items()} == {
        "customers": 100,
        "invoices": 2466,
        "disputes": 561,
    }
    assert stored(
        engine,
        "invoices",
        "customer_id",
        "issue_date",
        "due_date",
        "amount",
        "settled_date",
        "channel",
        invoice_id="0000611365",
    ) == [
        (
            "0379-NEVHP",
            dt.date(2013, 1, 2),
            dt.date(2013, 2, 1),
            55.94,
            dt.date(2013, 1, 15),
            "paper",
        )
    ]
    assert count(engine, "payments") == 0
    late = stored(engine, "invoices", "due_date", "settled_date")
    assert sum(settled > due for due, settled in late) == 877  # SOURCE.md: 35.6 % late
