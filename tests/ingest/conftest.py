"""Small export files written per test, and ways to look at what an import stored."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy import Engine

from latepay.db.tables import Base

CUSTOMERS_CSV = """\
    CUST_NO,NAME,COUNTRY
    C1,Acme GmbH,DE
    C2,Globex SA,FR
    """

INVOICES_CSV = """\
    DOC_NO,CUST_NO,DOC_DATE,NET_DUE_DATE,AMOUNT,CURRENCY
    0001,C1,2024-01-05,2024-02-04,100.00,eur
    0002,C1,2024-01-20,2024-02-19,250.50,EUR
    0003,C2,2024-02-01,2024-03-02,80.00,EUR
    """

PAYMENTS_CSV = """\
    PAY_NO,DOC_NO,PAID_ON,PAID
    P1,0001,2024-02-01,100.00
    P2,0002,2024-02-10,200.00
    """

CUSTOMERS_MAPPING = {
    "path": "customers.csv",
    "columns": {"customer_id": "CUST_NO", "name": "NAME", "country": "COUNTRY"},
}
INVOICES_MAPPING = {
    "path": "invoices.csv",
    "columns": {
        "invoice_id": "DOC_NO",
        "customer_id": "CUST_NO",
        "issue_date": "DOC_DATE",
        "due_date": "NET_DUE_DATE",
        "amount": "AMOUNT",
        "currency": "CURRENCY",
    },
}
PAYMENTS_MAPPING = {
    "path": "payments.csv",
    "columns": {
        "payment_id": "PAY_NO",
        "invoice_id": "DOC_NO",
        "paid_date": "PAID_ON",
        "amount": "PAID",
    },
}


@dataclass
class Exports:
    """A folder of export files and their mapping, as a test writes them."""

    folder: Path

    def write(self, name: str, text: str, *, encoding: str = "utf-8") -> Path:
        """Write a file; ``text`` may be indented (it is dedented)."""
        path = self.folder / name
        path.write_bytes(textwrap.dedent(text).encode(encoding))
        return path

    def mapping(self, **entities: dict[str, Any]) -> Path:
        """Write ``mapping.yaml`` with one section per keyword argument."""
        path = self.folder / "mapping.yaml"
        path.write_text(yaml.safe_dump(entities, sort_keys=False), encoding="utf-8")
        return path

    def ledger(self) -> Path:
        """The standard small ledger: 2 customers, 3 invoices, 2 payments, and its mapping."""
        self.write("customers.csv", CUSTOMERS_CSV)
        self.write("invoices.csv", INVOICES_CSV)
        self.write("payments.csv", PAYMENTS_CSV)
        return self.mapping(
            customers=CUSTOMERS_MAPPING, invoices=INVOICES_MAPPING, payments=PAYMENTS_MAPPING
        )


@pytest.fixture
def exports(tmp_path: Path) -> Exports:
    folder = tmp_path / "exports"
    folder.mkdir()
    return Exports(folder)


def stored(engine: Engine, table: str, *columns: str, **equal: object) -> list[tuple]:
    """``columns`` of the rows of ``table`` (those whose columns equal ``equal``), by key.

    Read through the table definitions, so dates and booleans come back typed on every back end.
    """
    definition = Base.metadata.tables[table]
    query = sa.select(*(definition.c[name] for name in columns)).order_by(
        *definition.primary_key.columns
    )
    for name, value in equal.items():
        query = query.where(definition.c[name] == value)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def count(engine: Engine, table: str) -> int:
    """How many rows ``table`` holds."""
    definition = Base.metadata.tables[table]
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(definition)).scalar_one()
