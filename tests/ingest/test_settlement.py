"""Invoices are settled by their payments: on the day the payments cover the amount."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine
from tests.ingest.conftest import (
    CUSTOMERS_MAPPING,
    INVOICES_CSV,
    INVOICES_MAPPING,
    PAYMENTS_CSV,
    PAYMENTS_MAPPING,
    Exports,
    stored,
)

from latepay.ingest import import_mapping
from latepay.ingest.settlement import settlement_dates

PARTIAL_PAYMENTS_CSV = """\
    DOC_NO,PAID_ON,PAID
    0001,2024-01-25,40.00
    0001,2024-02-15,60.00
    0002,2024-02-10,200.00
    0003,2024-02-20,30.00
    0003,2024-02-20,30.00
    0003,2024-03-05,20.00
    """
WITHOUT_PAYMENT_ID = {
    "path": "payments.csv",
    "columns": {"invoice_id": "DOC_NO", "paid_date": "PAID_ON", "amount": "PAID"},
}


def test_partial_payments_settle_an_invoice_on_the_day_of_the_last_one(
    engine: Engine, exports: Exports
) -> None:
    exports.ledger()
    exports.write("payments.csv", PARTIAL_PAYMENTS_CSV)
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING, invoices=INVOICES_MAPPING, payments=WITHOUT_PAYMENT_ID
    )

    report = import_mapping(engine, mapping)

    assert report.ok, report.errors
    assert report.entities["payments"].inserted == 6
    assert report.entities["payments"].settlements_changed == 2
    assert stored(engine, "invoices", "invoice_id", "settled_date") == [
        ("0001", dt.date(2024, 2, 15)),  # 40 + 60 = 100
        ("0002", None),  # 200 of 250.50: still open
        ("0003", dt.date(2024, 3, 5)),  # two equal payments on one day, then the rest
    ]


def test_payments_without_ids_get_stable_ids_and_reimport_unchanged(
    engine: Engine, exports: Exports
) -> None:
    exports.ledger()
    exports.write("payments.csv", PARTIAL_PAYMENTS_CSV)
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING, invoices=INVOICES_MAPPING, payments=WITHOUT_PAYMENT_ID
    )
    import_mapping(engine, mapping)
    first = stored(engine, "payments", "payment_id")

    again = import_mapping(engine, mapping)

    assert again.nothing_changed
    assert stored(engine, "payments", "payment_id") == first
    assert len({pid for (pid,) in first}) == 6
    assert all(pid.startswith("pay-") and len(pid) == 36 for (pid,) in first)


def test_a_later_payment_settles_an_open_invoice(engine: Engine, exports: Exports) -> None:
    mapping = exports.ledger()
    import_mapping(engine, mapping)
    exports.write("payments.csv", PAYMENTS_CSV + "    P3,0002,2024-03-01,50.50\n")

    report = import_mapping(engine, mapping)

    assert (report.entities["payments"].inserted, report.entities["payments"].unchanged) == (1, 2)
    assert report.entities["payments"].settlements_changed == 1
    assert stored(engine, "invoices", "settled_date", invoice_id="0002") == [(dt.date(2024, 3, 1),)]


def test_a_corrected_payment_moves_the_settlement(engine: Engine, exports: Exports) -> None:
    mapping = exports.ledger()
    import_mapping(engine, mapping)
    exports.write("payments.csv", PAYMENTS_CSV.replace("P1,0001,2024-02-01", "P1,0002,2024-02-01"))

    report = import_mapping(engine, mapping)

    assert report.entities["payments"].updated == 1
    assert report.entities["payments"].settlements_changed == 2
    assert stored(engine, "invoices", "invoice_id", "settled_date") == [
        ("0001", None),  # lost its only payment: open again
        ("0002", dt.date(2024, 2, 10)),  # 100 + 200 cover its 250.50
        ("0003", None),
    ]


def test_updating_an_invoice_keeps_the_settlement_its_payments_give(
    engine: Engine, exports: Exports
) -> None:
    mapping = exports.ledger()
    import_mapping(engine, mapping)
    exports.write("invoices.csv", INVOICES_CSV.replace("100.00,eur", "100.00,USD"))

    report = import_mapping(engine, mapping)

    assert report.entities["invoices"].updated == 1
    assert stored(engine, "invoices", "currency", "settled_date", invoice_id="0001") == [
        ("USD", dt.date(2024, 2, 1))
    ]


def test_a_raised_invoice_amount_reopens_it(engine: Engine, exports: Exports) -> None:
    mapping = exports.ledger()
    import_mapping(engine, mapping)
    exports.write("invoices.csv", INVOICES_CSV.replace("100.00", "120.00"))

    report = import_mapping(engine, mapping)

    assert report.entities["invoices"].settlements_changed == 1
    assert stored(engine, "invoices", "settled_date", invoice_id="0001") == [(None,)]


def test_the_files_settled_date_is_used_for_invoices_without_payments(
    engine: Engine, exports: Exports
) -> None:
    exports.ledger()
    exports.write(
        "invoices.csv",
        INVOICES_CSV.replace("NET_DUE_DATE,AMOUNT,CURRENCY", "NET_DUE_DATE,AMOUNT,CURRENCY,CLEARED")
        .replace(",eur", ",eur,2024-01-31")
        .replace("250.50,EUR", "250.50,EUR,")
        .replace("80.00,EUR", "80.00,EUR,2024-02-28"),
    )
    invoices = {
        **INVOICES_MAPPING,
        "columns": {**INVOICES_MAPPING["columns"], "settled_date": "CLEARED"},
    }
    mapping = exports.mapping(
        customers=CUSTOMERS_MAPPING, invoices=invoices, payments=PAYMENTS_MAPPING
    )

    report = import_mapping(engine, mapping)

    assert report.ok, report.errors
    assert stored(engine, "invoices", "invoice_id", "settled_date") == [
        ("0001", dt.date(2024, 2, 1)),  # its payment decides, not the file's 2024-01-31
        ("0002", None),  # partly paid: open
        ("0003", dt.date(2024, 2, 28)),  # no payments: the file's date
    ]


def test_settlement_dates_tolerate_half_a_cent_and_handle_credit_notes() -> None:
    payments = pd.DataFrame(
        {
            "invoice_id": ["A", "A", "C", "D"],
            "paid_date": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-05", "2024-01-06"]),
            "amount": [33.33, 66.666, -50.0, -10.0],
        }
    )
    amounts = pd.Series({"A": 100.0, "C": -50.0, "D": -50.0})

    settled = settlement_dates(payments, amounts)

    assert settled["A"] == pd.Timestamp("2024-01-02")  # 99.996 of 100: within half a cent
    assert settled["C"] == pd.Timestamp("2024-01-05")  # a credit note refunded in full
    assert pd.isna(settled["D"])  # refunded 10 of 50
