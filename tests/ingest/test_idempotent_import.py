"""Importing writes each row once: a second import changes nothing, a changed row only itself."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from tests.ingest.conftest import (
    CUSTOMERS_MAPPING,
    INVOICES_CSV,
    INVOICES_MAPPING,
    Exports,
    count,
    stored,
)

from latepay.ingest import import_mapping


def test_a_ledger_is_imported_with_canonical_values(engine: Engine, exports: Exports) -> None:
    report = import_mapping(engine, exports.ledger())

    assert report.ok, report.errors
    assert [(name, c.inserted) for name, c in report.entities.items()] == [
        ("customers", 2),
        ("invoices", 3),
        ("payments", 2),
    ]
    assert stored(
        engine, "invoices", "invoice_id", "customer_id", "issue_date", "due_date", "amount"
    )[0] == ("0001", "C1", dt.date(2024, 1, 5), dt.date(2024, 2, 4), 100.0)
    assert stored(engine, "invoices", "currency") == [("EUR",)] * 3
    hashes = [h for (h,) in stored(engine, "invoices", "row_hash")]
    assert all(len(h) == 32 and int(h, 16) >= 0 for h in hashes)


def test_importing_the_same_files_twice_writes_nothing(engine: Engine, exports: Exports) -> None:
    mapping = exports.ledger()
    import_mapping(engine, mapping)
    stamps = stored(engine, "invoices", "invoice_id", "updated_at")

    again = import_mapping(engine, mapping)

    assert again.ok and again.nothing_changed
    assert {name: (c.inserted, c.updated, c.unchanged) for name, c in again.entities.items()} == {
        "customers": (0, 0, 2),
        "invoices": (0, 0, 3),
        "payments": (0, 0, 2),
    }
    assert stored(engine, "invoices", "invoice_id", "updated_at") == stamps


def test_a_changed_row_is_updated_and_only_it(engine: Engine, exports: Exports) -> None:
    mapping = exports.ledger()
    import_mapping(engine, mapping)
    stamps = dict(stored(engine, "invoices", "invoice_id", "updated_at"))
    exports.write("invoices.csv", INVOICES_CSV.replace("250.50", "260.00"))

    report = import_mapping(engine, mapping)

    invoices = report.entities["invoices"]
    assert (invoices.inserted, invoices.updated, invoices.unchanged) == (0, 1, 2)
    assert report.entities["customers"].updated == 0
    assert stored(engine, "invoices", "amount", invoice_id="0002") == [(260.0,)]
    after = dict(stored(engine, "invoices", "invoice_id", "updated_at"))
    assert after["0001"] == stamps["0001"] and after["0003"] == stamps["0003"]
    assert after["0002"] > stamps["0002"]


def test_the_same_value_written_differently_is_not_a_change(
    engine: Engine, exports: Exports
) -> None:
    mapping = exports.ledger()
    import_mapping(engine, mapping)
    exports.write(
        "invoices.csv",
        INVOICES_CSV.replace("2024-01-05", "2024-01-05 00:00:00").replace("100.00", " 100.0 "),
    )

    report = import_mapping(engine, mapping)

    assert report.nothing_changed


def test_features_are_kept_by_source_name_as_numbers_or_text(
    engine: Engine, exports: Exports
) -> None:
    exports.write(
        "invoices.csv",
        '''\
        DOC_NO,CUST_NO,DOC_DATE,TERMS,AMOUNT,PAY_METHOD,RISK_SCORE
        A1,C1,2024-01-05,30,100.00,"SEPA ""core""",0.25
        A2,C1,2024-01-06,30,50.00,,12
        ''',
    )
    mapping = exports.mapping(
        invoices={
            "path": "invoices.csv",
            "columns": {
                "invoice_id": "DOC_NO",
                "customer_id": "CUST_NO",
                "issue_date": "DOC_DATE",
                "payment_terms_days": "TERMS",
                "amount": "AMOUNT",
            },
            "features": ["PAY_METHOD", "RISK_SCORE"],
        }
    )

    report = import_mapping(engine, mapping)

    assert report.ok, report.errors
    invoices = stored(engine, "invoices", "due_date", "extra")
    assert invoices == [
        (dt.date(2024, 2, 4), {"PAY_METHOD": 'SEPA "core"', "RISK_SCORE": 0.25}),
        (dt.date(2024, 2, 5), {"PAY_METHOD": None, "RISK_SCORE": 12}),
    ]


def test_a_denormalized_file_collapses_identical_repeats(engine: Engine, exports: Exports) -> None:
    exports.write(
        "flat.csv",
        """\
        CUST_NO,COUNTRY,DOC_NO,DOC_DATE,DUE,AMOUNT
        C1,DE,1,2024-01-05,2024-02-04,10
        C1,DE,2,2024-01-06,2024-02-05,20
        C2,FR,3,2024-01-07,2024-02-06,30
        """,
    )
    mapping = exports.mapping(
        customers={
            "path": "flat.csv",
            "denormalized": True,
            "columns": {"customer_id": "CUST_NO", "country": "COUNTRY"},
        },
        invoices={
            "path": "flat.csv",
            "columns": {
                "invoice_id": "DOC_NO",
                "customer_id": "CUST_NO",
                "issue_date": "DOC_DATE",
                "due_date": "DUE",
                "amount": "AMOUNT",
            },
        },
    )

    report = import_mapping(engine, mapping)

    assert report.ok, report.errors
    assert report.entities["customers"].inserted == 2
    assert stored(engine, "customers", "customer_id", "country") == [
        ("C1", "DE"),
        ("C2", "FR"),
    ]
    assert count(engine, "invoices") == 3


def test_where_keeps_only_matching_rows(engine: Engine, exports: Exports) -> None:
    exports.write("customers.csv", "CUST_NO,NAME,COUNTRY\nC1,Acme,DE\n")
    exports.write(
        "flat.csv",
        """\
        CUST_NO,DOC_NO,SETTLED,Disputed
        C1,1,2024-02-01,Yes
        C1,2,2024-02-02,No
        C1,3,2024-02-03, Yes
        """,
    )
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING,
        disputes={
            "path": "flat.csv",
            "where": {"Disputed": "Yes"},
            "columns": {
                "dispute_id": "DOC_NO",
                "invoice_id": "DOC_NO",
                "customer_id": "CUST_NO",
                "opened_date": "SETTLED",
            },
        },
    )

    report = import_mapping(engine, mapping)

    assert report.ok, report.errors
    assert stored(engine, "disputes", "dispute_id") == [("1",), ("3",)]


def test_progress_is_reported_per_entity_up_to_its_total(engine: Engine, exports: Exports) -> None:
    calls: list[tuple[str, int, int]] = []

    import_mapping(engine, exports.ledger(), progress=lambda *call: calls.append(call))

    for entity, total in (("customers", 2), ("invoices", 3), ("payments", 2)):
        seen = [(done, of) for name, done, of in calls if name == entity]
        assert seen[0] == (0, total) and seen[-1] == (total, total)
        assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_paths_may_be_relative_to_a_data_folder(engine: Engine, exports: Exports, tmp_path) -> None:
    exports.write("invoices.csv", INVOICES_CSV)
    exports.write("customers.csv", "CUST_NO,NAME,COUNTRY\nC1,Acme,DE\nC2,Globex,FR\n")
    elsewhere = tmp_path / "mappings"
    elsewhere.mkdir()
    mapping = exports.mapping(customers=CUSTOMERS_MAPPING, invoices=INVOICES_MAPPING)
    moved = elsewhere / "mapping.yaml"
    mapping.rename(moved)

    report = import_mapping(engine, moved, data_dir=exports.folder)

    assert report.ok and report.entities["invoices"].inserted == 3
