"""Problems with a whole file or the mapping: one clear InputError, nothing of the file written."""

from __future__ import annotations

import codecs
import re
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.ingest.conftest import (
    CUSTOMERS_CSV,
    CUSTOMERS_MAPPING,
    INVOICES_CSV,
    INVOICES_MAPPING,
    Exports,
    count,
    stored,
)

from latepay.db import make_engine
from latepay.errors import InputError
from latepay.ingest import import_mapping, load_mapping


def _invoices_only(exports: Exports, text: str, *, name: str = "invoices.csv") -> Path:
    """Customers (fine) and an invoices file holding ``text``, and their mapping."""
    exports.write("customers.csv", CUSTOMERS_CSV)
    exports.write(name, text)
    return exports.mapping(customers=CUSTOMERS_MAPPING, invoices={**INVOICES_MAPPING, "path": name})


def test_a_missing_file_is_named_by_its_resolved_path(
    sqlite_engine: Engine, exports: Exports
) -> None:
    mapping = exports.mapping(invoices={**INVOICES_MAPPING, "path": "../exports/nowhere.csv"})

    with pytest.raises(InputError, match=re.escape(str(exports.folder / "nowhere.csv"))):
        import_mapping(sqlite_engine, mapping)


def test_a_missing_file_fails_before_anything_is_written(
    sqlite_engine: Engine, exports: Exports
) -> None:
    exports.write("customers.csv", CUSTOMERS_CSV)
    mapping = exports.mapping(customers=CUSTOMERS_MAPPING, invoices=INVOICES_MAPPING)

    with pytest.raises(InputError, match="does not exist"):
        import_mapping(sqlite_engine, mapping)
    assert count(sqlite_engine, "customers") == 0


def test_an_empty_file_is_an_error(sqlite_engine: Engine, exports: Exports) -> None:
    mapping = _invoices_only(exports, "")

    with pytest.raises(InputError, match=r"invoices\.csv is empty: expected a header line"):
        import_mapping(sqlite_engine, mapping)


def test_a_file_with_only_a_header_imports_nothing_and_says_so(
    sqlite_engine: Engine, exports: Exports
) -> None:
    mapping = _invoices_only(exports, INVOICES_CSV.splitlines()[0] + "\n")

    report = import_mapping(sqlite_engine, mapping)

    assert report.ok and report.entities["invoices"].inserted == 0
    assert "invoices.csv: no invoices rows to import" in report.warnings


def test_a_missing_column_is_named_with_the_columns_the_file_has(
    sqlite_engine: Engine, exports: Exports
) -> None:
    mapping = _invoices_only(exports, INVOICES_CSV.replace("NET_DUE_DATE", "DUE"))

    with pytest.raises(InputError) as raised:
        import_mapping(sqlite_engine, mapping)

    message = str(raised.value)
    assert "column 'NET_DUE_DATE' (mapped to invoices.due_date) is not in the file" in message
    assert "the file has the columns: DOC_NO, CUST_NO, DOC_DATE, DUE, AMOUNT, CURRENCY" in message
    assert count(sqlite_engine, "customers") == 0


def test_a_semicolon_separated_file_is_read_with_its_decimal_commas(
    engine: Engine, exports: Exports
) -> None:
    semicolons = (
        INVOICES_CSV.replace(",", ";")
        .replace("100.00", "100,00")
        .replace("250.50", "1.250,50")
        .replace("80.00", "80")
    )
    mapping = _invoices_only(exports, semicolons)

    report = import_mapping(engine, mapping)

    assert report.ok, report.errors
    assert report.entities["invoices"].inserted == 3
    assert stored(engine, "invoices", "amount") == [(100.0,), (1250.5,), (80.0,)]


def test_a_header_that_splits_equally_on_two_delimiters_is_an_error(
    sqlite_engine: Engine, exports: Exports
) -> None:
    mapping = _invoices_only(exports, "DOC_NO;CUST_NO,DOC_DATE\n1;C1,2024-01-01\n")

    with pytest.raises(InputError, match=r"cannot tell the delimiter.*both ',' and ';'"):
        import_mapping(sqlite_engine, mapping)


def test_a_file_that_is_not_utf8_names_the_byte_and_its_offset(
    engine: Engine, exports: Exports
) -> None:
    mapping = _invoices_only(exports, INVOICES_CSV)
    latin1 = INVOICES_CSV.replace("0003,C2", "0003,C2é")
    exports.write("invoices.csv", latin1, encoding="latin-1")
    offset = textwrap.dedent(latin1).encode("latin-1").index(b"\xe9")

    with pytest.raises(InputError) as raised:
        import_mapping(engine, mapping)

    assert str(raised.value) == (
        f"{exports.folder / 'invoices.csv'} is not UTF-8: byte 0xe9 at offset {offset} (line 4) "
        "is not valid UTF-8; re-save the file as UTF-8 (e.g. 'CSV UTF-8' in Excel)"
    )
    # Found while every file's header is checked, before any file is written.
    assert count(engine, "customers") == 0
    assert count(engine, "invoices") == 0


def test_a_bad_byte_deep_in_a_file_stops_the_import_at_that_file(
    sqlite_engine: Engine, exports: Exports
) -> None:
    many = "".join(f"{n:05d},C1,2024-01-05,2024-02-04,1.00,EUR\n" for n in range(3000))
    header = "DOC_NO,CUST_NO,DOC_DATE,NET_DUE_DATE,AMOUNT,CURRENCY\n"
    mapping = _invoices_only(exports, header + many)
    path = exports.folder / "invoices.csv"
    path.write_bytes(path.read_bytes() + b"99999,C1\xff,2024-01-05,2024-02-04,1.00,EUR\n")

    with pytest.raises(InputError, match=r"byte 0xff at offset \d+ \(line 3002\)"):
        import_mapping(sqlite_engine, mapping)
    assert count(sqlite_engine, "customers") == 2  # committed before the bad file
    assert count(sqlite_engine, "invoices") == 0


def test_a_non_utf8_header_is_reported_too(sqlite_engine: Engine, exports: Exports) -> None:
    mapping = _invoices_only(exports, INVOICES_CSV)
    exports.write("invoices.csv", "DOC_NOé,X\n1,2\n", encoding="latin-1")

    with pytest.raises(InputError, match=r"byte 0xe9 at offset 6 \(line 1\)"):
        import_mapping(sqlite_engine, mapping)


def test_a_utf8_byte_order_mark_is_accepted(sqlite_engine: Engine, exports: Exports) -> None:
    mapping = _invoices_only(exports, INVOICES_CSV)
    path = exports.folder / "invoices.csv"
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())

    report = import_mapping(sqlite_engine, mapping)

    assert report.ok and report.entities["invoices"].inserted == 3


def test_an_unreadable_parquet_file_is_an_error(sqlite_engine: Engine, exports: Exports) -> None:
    exports.write("customers.csv", CUSTOMERS_CSV)
    exports.write("invoices.parquet", "this is not parquet")
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING, invoices={**INVOICES_MAPPING, "path": "invoices.parquet"}
    )

    with pytest.raises(InputError, match=r"cannot read .*invoices\.parquet as Parquet"):
        import_mapping(sqlite_engine, mapping)


def test_an_unsupported_file_type_is_an_error(sqlite_engine: Engine, exports: Exports) -> None:
    mapping = _invoices_only(exports, INVOICES_CSV, name="invoices.xlsx")

    with pytest.raises(InputError, match=r"unsupported file type; latepay reads \.csv"):
        import_mapping(sqlite_engine, mapping)


def test_ambiguous_dates_ask_for_a_declared_format(engine: Engine, exports: Exports) -> None:
    mapping = _invoices_only(
        exports,
        INVOICES_CSV.replace("2024-01-05", "01/05/2024")
        .replace("2024-01-20", "02/01/2024")
        .replace("2024-02-01", "03/02/2024"),
    )

    with pytest.raises(InputError) as raised:
        import_mapping(engine, mapping)

    assert str(raised.value) == (
        "invoices.csv: the dates in column DOC_DATE read equally well as %m/%d/%Y and as "
        "%d/%m/%Y (no day is above 12); declare the format in the mapping: date_formats: "
        '{issue_date: "%d/%m/%Y"} (or "%m/%d/%Y")'
    )
    assert count(engine, "invoices") == 0


def test_a_database_without_tables_is_reported(tmp_path: Path, exports: Exports) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")

    with pytest.raises(InputError, match="has no latepay tables; run `latepay init` first"):
        import_mapping(engine, exports.ledger())
    engine.dispose()


MAPPING_CASES = {
    "unknown entity": (
        {"invoice": INVOICES_MAPPING},
        "unknown entity 'invoice' (did you mean 'invoices'?); expected one of customers, ",
    ),
    "unknown canonical column": (
        {"invoices": {**INVOICES_MAPPING, "columns": {**INVOICES_MAPPING["columns"], "dew": "X"}}},
        "invoices: unknown canonical column 'dew'",
    ),
    "required canonical column missing": (
        {"invoices": {"path": "i.csv", "columns": {"invoice_id": "A", "customer_id": "B"}}},
        "invoices: the required canonical column issue_date is not mapped",
    ),
    "neither due date nor terms": (
        {
            "invoices": {
                "path": "i.csv",
                "columns": {
                    "invoice_id": "A",
                    "customer_id": "B",
                    "issue_date": "C",
                    "amount": "D",
                },
            }
        },
        "invoices: map at least one of due_date or payment_terms_days",
    ),
    "date format that reads no date": (
        {"invoices": {**INVOICES_MAPPING, "date_formats": {"issue_date": "%Q"}}},
        "date_formats.issue_date = '%Q' cannot read a date back",
    ),
    "date format for a source column": (
        {"invoices": {**INVOICES_MAPPING, "date_formats": {"DOC_DATE": "%d.%m.%Y"}}},
        "(use the canonical name, not the source column)",
    ),
    "features where there is no extra column": (
        {
            "payments": {
                "path": "p.csv",
                "columns": {"invoice_id": "A", "paid_date": "B", "amount": "C"},
                "features": ["X"],
            }
        },
        "payments: features are kept for customers and invoices only",
    ),
    "an unquoted yes in where": (
        {
            "disputes": {
                "path": "d.csv",
                "where": {"Disputed": True},
                "columns": {"customer_id": "A", "opened_date": "B"},
            }
        },
        "the value for Disputed is the YAML boolean True; quote it as it is written in the file",
    ),
    "an unknown option": (
        {"invoices": {**INVOICES_MAPPING, "delimiter": ";"}},
        "invoices: delimiter: Extra inputs are not permitted",
    ),
}


@pytest.mark.parametrize("content, message", MAPPING_CASES.values(), ids=MAPPING_CASES.keys())
def test_mapping_mistakes_are_explained(exports: Exports, content: dict, message: str) -> None:
    mapping = exports.mapping(**content)

    with pytest.raises(InputError) as raised:
        load_mapping(mapping)

    assert message in str(raised.value)
    assert str(raised.value).startswith(str(mapping))


def test_a_missing_mapping_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape(f"mapping file {tmp_path / 'm.yaml'}")):
        load_mapping(tmp_path / "m.yaml")


def test_industry_is_accepted_as_the_key_of_an_indicator(exports: Exports) -> None:
    mapping = exports.mapping(
        economic_indicators={
            "path": "e.csv",
            "columns": {"period": "P", "name": "N", "value": "V", "industry": "I"},
        }
    )

    columns = load_mapping(mapping).entities["economic_indicators"].columns

    assert columns == {"period": "P", "name": "N", "value": "V", "key": "I"}
