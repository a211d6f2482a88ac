"""Gzipped CSV and Parquet are read like CSV; ids keep their leading zeros in every format."""

from __future__ import annotations

import datetime as dt
import gzip
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine
from tests.ingest.conftest import (
    CUSTOMERS_CSV,
    CUSTOMERS_MAPPING,
    INVOICES_CSV,
    INVOICES_MAPPING,
    Exports,
    stored,
)

from latepay.ingest import import_mapping
from latepay.ingest.readers import read_table


def test_a_gzipped_csv_is_imported(engine: Engine, exports: Exports) -> None:
    exports.write("customers.csv", CUSTOMERS_CSV)
    (exports.folder / "invoices.csv.gz").write_bytes(
        gzip.compress(textwrap.dedent(INVOICES_CSV).encode())
    )
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING, invoices={**INVOICES_MAPPING, "path": "invoices.csv.gz"}
    )

    report = import_mapping(engine, mapping)

    assert report.ok, report.errors
    assert stored(engine, "invoices", "invoice_id") == [("0001",), ("0002",), ("0003",)]


def test_a_parquet_file_with_typed_columns_is_imported(engine: Engine, exports: Exports) -> None:
    exports.write("customers.csv", CUSTOMERS_CSV)
    table = pa.table(
        {
            "DOC_NO": ["0001", "0002"],
            "CUST_NO": pa.array(["C1", "C2"]).dictionary_encode(),
            "DOC_DATE": pa.array([dt.date(2024, 1, 5), dt.date(2024, 1, 20)]),
            "NET_DUE_DATE": pa.array([dt.datetime(2024, 2, 4), dt.datetime(2024, 2, 19, 12)]),
            "AMOUNT": [100.0, 250.5],
            "CURRENCY": ["EUR", None],
        }
    )
    pq.write_table(table, exports.folder / "invoices.parquet")
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING, invoices={**INVOICES_MAPPING, "path": "invoices.parquet"}
    )

    report = import_mapping(engine, mapping)

    assert report.ok, report.errors
    assert stored(engine, "invoices", "invoice_id", "due_date", "amount", "currency") == [
        ("0001", dt.date(2024, 2, 4), 100.0, "EUR"),
        ("0002", dt.date(2024, 2, 19), 250.5, None),
    ]


def test_parquet_dates_stored_as_numbers_are_read(exports: Exports) -> None:
    path = exports.folder / "dates.parquet"
    pq.write_table(pa.table({"D": [20200210.0, None], "N": pa.array([7, None])}), path)

    frame = read_table(path, ["D", "N"]).frame

    assert frame["D"].tolist() == ["20200210", ""]
    assert frame["N"].tolist() == ["7", ""]


def test_parquet_rows_are_numbered_as_if_exported_with_a_header(
    engine: Engine, exports: Exports
) -> None:
    exports.write("customers.csv", CUSTOMERS_CSV)
    table = pa.table(
        {
            "DOC_NO": ["1", "2"],
            "CUST_NO": ["C1", "C1"],
            "DOC_DATE": ["2024-01-05", "2024-01-06"],
            "NET_DUE_DATE": ["2024-02-04", "2024-02-05"],
            "AMOUNT": ["1.00", "x"],
            "CURRENCY": ["EUR", "EUR"],
        }
    )
    pq.write_table(table, exports.folder / "invoices.parquet")
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING, invoices={**INVOICES_MAPPING, "path": "invoices.parquet"}
    )

    [error] = import_mapping(engine, mapping).errors

    assert str(error) == "invoices.parquet:3: column AMOUNT value 'x': not a number"


def test_quoted_newlines_and_blank_lines_keep_line_numbers_right(exports: Exports) -> None:
    path = exports.write("notes.csv", 'ID,NOTE\n1,"two\nlines"\n\n2,ok\n3,x,extra\n4,fine\n')

    source = read_table(path, ["ID", "NOTE"])

    assert source.frame["ID"].tolist() == ["1", "2", "4"]
    assert source.lines(source.frame.index.to_numpy()).tolist() == [2, 5, 7]
    assert source.malformed_lines().tolist() == [6]
    assert (source.malformed_rows[0].fields, source.malformed_rows[0].text) == (3, "3,x,extra")


def test_ids_keep_their_leading_zeros_and_text_its_spaces_inside(exports: Exports) -> None:
    path = exports.write("ids.csv", "ID,NAME\n000123,  Acme  Ltd \n")

    frame = read_table(path, ["ID", "NAME"]).frame

    assert frame.to_dict("records") == [{"ID": "000123", "NAME": "  Acme  Ltd "}]
