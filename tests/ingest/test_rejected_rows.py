"""Rows that cannot be imported are reported with file, line, column and reason; their file is
not written at all, and the files after it are skipped."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from tests.ingest.conftest import (
    CUSTOMERS_MAPPING,
    INVOICES_CSV,
    INVOICES_MAPPING,
    PAYMENTS_CSV,
    Exports,
    count,
    stored,
)

from latepay.ingest import import_mapping

SECOND_INVOICE = "0002,C1,2024-01-20,2024-02-19,250.50,EUR"

INVOICE_CASES = {
    "unreadable date": (
        "0002,C1,2024-13-20,2024-02-19,250.50,EUR",
        (3, "DOC_DATE", "2024-13-20", "not a date in format %Y-%m-%d"),
    ),
    "unreadable amount": (
        "0002,C1,2024-01-20,2024-02-19,250.5x,EUR",
        (3, "AMOUNT", "250.5x", "not a number"),
    ),
    "due before issue": (
        "0002,C1,2024-01-20,2024-01-10,250.50,EUR",
        (3, "NET_DUE_DATE", "2024-01-10", "due_date is before the issue date 2024-01-20"),
    ),
    "required value empty": (
        "0002,,2024-01-20,2024-02-19,250.50,EUR",
        (3, "CUST_NO", "", "empty, but customer_id is required"),
    ),
    "zero amount": (
        "0002,C1,2024-01-20,2024-02-19,0.00,EUR",
        (3, "AMOUNT", "0.00", "zero amount: an invoice must be for a non-zero amount"),
    ),
    "decimal comma among decimal points": (
        '0002,C1,2024-01-20,2024-02-19,"250,50",EUR',
        (3, "AMOUNT", "250,50", "written with a decimal comma, unlike most of this column"),
    ),
    "not a currency": (
        "0002,C1,2024-01-20,2024-02-19,250.50,EURO",
        (3, "CURRENCY", "EURO", "not a three-letter ISO 4217 currency code"),
    ),
    "too many fields": (
        "0002,C1,2024-01-20,2024-02-19,250.50,EUR,extra",
        (3, "", "0002,C1,2024-01-20,2024-02-19,250.50,EUR,extra", "has 7 fields but the header"),
    ),
    "duplicate id": (
        "0003,C1,2024-01-20,2024-02-19,250.50,EUR",
        (4, "DOC_NO", "0003", "duplicate invoice_id: a file may hold each only once"),
    ),
}


@pytest.mark.parametrize("bad_row, expected", INVOICE_CASES.values(), ids=INVOICE_CASES.keys())
def test_a_bad_invoice_rejects_its_file_and_skips_the_rest(
    engine: Engine, exports: Exports, bad_row: str, expected: tuple[int, str, str, str]
) -> None:
    mapping = exports.ledger()
    exports.write("invoices.csv", INVOICES_CSV.replace(SECOND_INVOICE, bad_row))

    report = import_mapping(engine, mapping)

    assert not report.ok
    [error] = report.errors
    line, column, value, reason = expected
    assert (error.file, error.line, error.column, error.value) == (
        "invoices.csv",
        line,
        column,
        value,
    )
    assert error.reason.startswith(reason)
    assert report.entities["customers"].inserted == 2
    assert report.entities["invoices"].rejected == 1
    assert report.entities["payments"].skipped
    assert count(engine, "invoices") == 0
    assert count(engine, "payments") == 0


def test_a_duplicate_names_the_line_it_repeats(engine: Engine, exports: Exports) -> None:
    mapping = exports.ledger()
    exports.write("invoices.csv", INVOICES_CSV.replace("0003,C2", "0001,C2"))

    [error] = import_mapping(engine, mapping).errors

    assert str(error) == (
        "invoices.csv:4: column DOC_NO value '0001': duplicate invoice_id: a file may hold "
        "each only once (first on line 2)"
    )


def test_a_bad_row_in_a_changed_file_leaves_the_stored_rows_as_they_were(
    engine: Engine, exports: Exports
) -> None:
    mapping = exports.ledger()
    import_mapping(engine, mapping)
    before = stored(engine, "invoices", "invoice_id", "amount", "row_hash", "updated_at")
    exports.write(
        "invoices.csv",
        INVOICES_CSV.replace("100.00", "111.00").replace("80.00,EUR", "80.00,EURO")
        + "0004,C2,2024-03-01,2024-03-31,5.00,EUR\n",
    )

    report = import_mapping(engine, mapping)

    assert [(e.line, e.column) for e in report.errors] == [(4, "CURRENCY")]
    assert stored(engine, "invoices", "invoice_id", "amount", "row_hash", "updated_at") == before


def test_a_settled_date_before_the_issue_date_is_rejected(engine: Engine, exports: Exports) -> None:
    exports.write("customers.csv", "CUST_NO,NAME,COUNTRY\nC1,Acme,DE\n")
    exports.write(
        "invoices.csv",
        """\
        DOC_NO,CUST_NO,DOC_DATE,NET_DUE_DATE,AMOUNT,CLEARED
        1,C1,2024-01-05,2024-02-04,100.00,2024-01-30
        2,C1,2024-01-20,2024-02-19,250.50,2024-01-19
        """,
    )
    columns = {**INVOICES_MAPPING["columns"], "settled_date": "CLEARED"}
    del columns["currency"]
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING, invoices={"path": "invoices.csv", "columns": columns}
    )

    [error] = import_mapping(engine, mapping).errors

    assert (error.line, error.column, error.value) == (3, "CLEARED", "2024-01-19")
    assert error.reason == "settled_date is before the issue date 2024-01-20"
    assert count(engine, "invoices") == 0


PAYMENT_CASES = {
    "unknown invoice": (
        "P2,0009,2024-02-10,200.00",
        (3, "DOC_NO", "0009", "no invoice with this id in the database or in this import"),
    ),
    "paid before issue": (
        "P2,0002,2024-01-10,200.00",
        (3, "PAID_ON", "2024-01-10", "paid before the invoice's issue date 2024-01-20"),
    ),
    "zero payment": (
        "P2,0002,2024-02-10,0",
        (3, "PAID", "0", "zero amount: a payment must be for a non-zero amount"),
    ),
}


@pytest.mark.parametrize("bad_row, expected", PAYMENT_CASES.values(), ids=PAYMENT_CASES.keys())
def test_a_bad_payment_rejects_the_payments_file(
    engine: Engine, exports: Exports, bad_row: str, expected: tuple[int, str, str, str]
) -> None:
    mapping = exports.ledger()
    exports.write("payments.csv", PAYMENTS_CSV.replace("P2,0002,2024-02-10,200.00", bad_row))

    report = import_mapping(engine, mapping)

    [error] = report.errors
    assert (error.file, error.line, error.column, error.value, error.reason) == (
        "payments.csv",
        *expected,
    )
    assert report.entities["invoices"].inserted == 3
    assert count(engine, "payments") == 0
    assert stored(engine, "invoices", "settled_date") == [(None,)] * 3


def test_conflicting_repeats_of_a_denormalized_file_are_rejected(
    engine: Engine, exports: Exports
) -> None:
    exports.write(
        "flat.csv",
        """\
        CUST_NO,COUNTRY,DOC_NO
        C1,DE,1
        C1,DE,2
        C1,FR,3
        """,
    )
    mapping = exports.mapping(
        customers={
            "path": "flat.csv",
            "denormalized": True,
            "columns": {"customer_id": "CUST_NO", "country": "COUNTRY"},
        }
    )

    [error] = import_mapping(engine, mapping).errors

    assert (error.line, error.column, error.value) == (4, "COUNTRY", "FR")
    assert error.reason.startswith("differs from an earlier row with the same key")
    assert error.reason.endswith("(first on line 2)")
    assert count(engine, "customers") == 0


def test_errors_beyond_the_listed_ones_are_counted(engine: Engine, exports: Exports) -> None:
    exports.write("customers.csv", "CUST_NO,NAME,COUNTRY\nC1,Acme,DE\n")
    bad_rows = "".join(f"{n},C1,2024-01-05,2024-02-04,oops\n" for n in range(1200))
    exports.write("invoices.csv", "DOC_NO,CUST_NO,DOC_DATE,NET_DUE_DATE,AMOUNT\n" + bad_rows)
    columns = {k: v for k, v in INVOICES_MAPPING["columns"].items() if k != "currency"}
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING, invoices={"path": "invoices.csv", "columns": columns}
    )

    report = import_mapping(engine, mapping)

    assert report.entities["invoices"].rejected == 1200
    assert len(report.errors) == 1000
    assert report.errors[-1].line == 1001
    assert "200 more errors not listed (1,200 rows rejected in all)" in report.warnings[-1]
