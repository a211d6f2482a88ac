"""Rules an accounts-receivable team expects: unknown customers, credit notes, due dates."""

from __future__ import annotations

import datetime as dt

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


def test_invoices_of_unknown_customers_create_them_with_a_warning(
    engine: Engine, exports: Exports
) -> None:
    exports.write("invoices.csv", INVOICES_CSV)
    mapping = exports.mapping(invoices=INVOICES_MAPPING)

    report = import_mapping(engine, mapping)

    assert report.ok and report.entities["invoices"].customers_created == 2
    assert report.warnings == [
        "invoices.csv: 2 customers named by invoices were unknown (C1, C2); created them "
        "with auto_created=True"
    ]
    assert stored(engine, "customers", "customer_id", "auto_created", "excluded_from_outreach") == [
        ("C1", True, False),
        ("C2", True, False),
    ]
    assert import_mapping(engine, mapping).nothing_changed


def test_a_customer_file_listing_a_created_customer_makes_it_real(
    engine: Engine, exports: Exports
) -> None:
    exports.write("invoices.csv", INVOICES_CSV)
    import_mapping(engine, exports.mapping(invoices=INVOICES_MAPPING))
    exports.write("customers.csv", CUSTOMERS_CSV)

    report = import_mapping(engine, exports.mapping(customers=CUSTOMERS_MAPPING))

    assert report.entities["customers"].updated == 2
    assert stored(engine, "customers", "name", "auto_created") == [
        ("Acme GmbH", False),
        ("Globex SA", False),
    ]


def test_negative_amounts_are_kept_as_credit_notes_with_a_warning(
    engine: Engine, exports: Exports
) -> None:
    exports.write("customers.csv", CUSTOMERS_CSV)
    exports.write("invoices.csv", INVOICES_CSV.replace("80.00", "-80.00"))
    mapping = exports.mapping(customers=CUSTOMERS_MAPPING, invoices=INVOICES_MAPPING)

    report = import_mapping(engine, mapping)

    assert report.ok
    assert stored(engine, "invoices", "amount", "is_credit_note") == [
        (100.0, False),
        (250.5, False),
        (-80.0, True),
    ]
    assert report.warnings == [
        "invoices.csv: 1 invoices have a negative amount; imported as credit notes "
        "(is_credit_note=True), which are kept out of training"
    ]


def test_the_due_date_comes_from_the_terms_where_it_is_missing(
    engine: Engine, exports: Exports
) -> None:
    exports.write("customers.csv", CUSTOMERS_CSV)
    with_terms = """\
        DOC_NO,CUST_NO,DOC_DATE,DUE,TERMS,AMOUNT
        1,C1,2024-01-05,,30,10
        2,C1,2024-01-05,2024-01-20,30,10
        """
    exports.write("invoices.csv", with_terms + "        3,C1,2024-01-05,,,10\n")
    columns = {
        "invoice_id": "DOC_NO",
        "customer_id": "CUST_NO",
        "issue_date": "DOC_DATE",
        "due_date": "DUE",
        "payment_terms_days": "TERMS",
        "amount": "AMOUNT",
    }
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING, invoices={"path": "invoices.csv", "columns": columns}
    )

    [error] = import_mapping(engine, mapping).errors
    exports.write("invoices.csv", with_terms)
    fixed = import_mapping(engine, mapping)

    assert (error.line, error.column, error.value) == (4, "DUE", "")
    assert error.reason.startswith("empty, but a due date (or payment_terms_days")
    assert fixed.ok
    assert stored(engine, "invoices", "due_date") == [
        (dt.date(2024, 2, 4),),
        (dt.date(2024, 1, 20),),
    ]


def test_customer_values_are_normalised(engine: Engine, exports: Exports) -> None:
    exports.write(
        "customers.csv",
        """\
        ID,LIMIT,TERMS,SINCE,NO_DUNNING
        007," 12,500.00 ",30,15.03.2019,Y
        008,,45.0,01.04.2020,no
        """,
    )
    mapping = exports.mapping(
        customers={
            "path": "customers.csv",
            "columns": {
                "customer_id": "ID",
                "credit_limit": "LIMIT",
                "payment_terms_days": "TERMS",
                "customer_since": "SINCE",
                "excluded_from_outreach": "NO_DUNNING",
            },
        }
    )

    report = import_mapping(engine, mapping)

    assert report.ok, report.errors
    assert stored(
        engine,
        "customers",
        "customer_id",
        "credit_limit",
        "payment_terms_days",
        "customer_since",
        "excluded_from_outreach",
    ) == [
        ("007", 12500.0, 30, dt.date(2019, 3, 15), True),
        ("008", None, 45, dt.date(2020, 4, 1), False),
    ]


def test_indicators_interactions_and_disputes_are_imported(
    engine: Engine, exports: Exports
) -> None:
    exports.write("customers.csv", CUSTOMERS_CSV)
    exports.write(
        "indicators.csv", "MONTH,SERIES,VALUE,SECTOR\n2024-01,pmi,49.5,\n2024-01,pmi,51,retail\n"
    )
    exports.write(
        "log.csv",
        "CUST,WHEN,HOW,ABOUT\nC1,2024-01-03,Phone,invoice copy\nC1,2024-01-03,Phone,invoice copy\n",
    )
    exports.write("disputes.csv", "CUST,OPENED,CLOSED,WHY\nC2,2024-02-01,2024-02-10,price\n")
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING,
        disputes={
            "path": "disputes.csv",
            "columns": {
                "customer_id": "CUST",
                "opened_date": "OPENED",
                "resolved_date": "CLOSED",
                "reason": "WHY",
            },
        },
        interactions={
            "path": "log.csv",
            "columns": {"customer_id": "CUST", "date": "WHEN", "channel": "HOW", "topic": "ABOUT"},
        },
        economic_indicators={
            "path": "indicators.csv",
            "columns": {"period": "MONTH", "name": "SERIES", "value": "VALUE", "key": "SECTOR"},
        },
    )

    report = import_mapping(engine, mapping)

    assert report.ok, report.errors
    assert stored(engine, "economic_indicators", "name", "key", "period", "value") == [
        ("pmi", "", dt.date(2024, 1, 1), 49.5),
        ("pmi", "retail", dt.date(2024, 1, 1), 51.0),
    ]
    interactions = stored(engine, "interactions", "interaction_id", "channel", "topic")
    assert len(interactions) == 2 and interactions[0][0] != interactions[1][0]
    assert {row[1:] for row in interactions} == {("phone", "invoice copy")}
    assert stored(engine, "disputes", "customer_id", "resolved_date", "reason") == [
        ("C2", dt.date(2024, 2, 10), "price")
    ]
    assert import_mapping(engine, mapping).nothing_changed
