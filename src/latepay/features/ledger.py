"""The ledger as data frames: everything feature builders may look at.

A :class:`Ledger` is what latepay knows about customers and their invoices, payments, disputes,
interactions and the economy. Feature builders only ever see a ledger plus a moment, and use
nothing of it dated on or after that moment, so the same code serves a backtest over years of
history and a live score of one invoice (given only that customer's part of the ledger).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.frames import read_unconverted
from latepay.db.tables import (
    Customer,
    Dispute,
    EconomicIndicator,
    Interaction,
    Invoice,
    Outcome,
    as_utc,
)

INVOICE_COLUMNS = [
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "currency",
    "payment_method",
    "channel",
    "settled_date",
    "is_credit_note",
]
CUSTOMER_COLUMNS = [
    "customer_id",
    "industry",
    "country",
    "segment",
    "credit_limit",
    "payment_terms_days",
    "customer_since",
]
DATE_COLUMNS = {
    "invoices": ["issue_date", "due_date", "settled_date"],
    "customers": ["customer_since"],
    "disputes": ["opened_date", "resolved_date"],
    "interactions": ["date"],
    "indicators": ["period"],
    "promises": ["recorded_date", "promised_date"],
}
PROMISE_COLUMNS = ["customer_id", "invoice_id", "recorded_date", "promised_date"]
INVOICE_EXTRA_PREFIX = "inv_"
CUSTOMER_EXTRA_PREFIX = "cust_"


@dataclass(frozen=True)
class Ledger:
    """Data frames of the canonical entities; dates are ``datetime64[s]`` at midnight.

    Attributes
    ----------
    invoices : DataFrame
        :data:`INVOICE_COLUMNS` plus the mapping's extra features, prefixed ``inv_``.
    customers : DataFrame
        :data:`CUSTOMER_COLUMNS` plus extra features, prefixed ``cust_``.
    disputes : DataFrame
        customer_id, invoice_id, opened_date, resolved_date.
    interactions : DataFrame
        customer_id, date, topic.
    indicators : DataFrame
        name, key ('' for global), period (first day of the month), value.
    promises : DataFrame
        Promises to pay collectors recorded: customer_id, invoice_id, recorded_date,
        promised_date.
    """

    invoices: pd.DataFrame
    customers: pd.DataFrame
    disputes: pd.DataFrame
    interactions: pd.DataFrame
    indicators: pd.DataFrame
    promises: pd.DataFrame

    @classmethod
    def from_frames(
        cls,
        *,
        invoices: pd.DataFrame,
        customers: pd.DataFrame | None = None,
        disputes: pd.DataFrame | None = None,
        interactions: pd.DataFrame | None = None,
        indicators: pd.DataFrame | None = None,
        promises: pd.DataFrame | None = None,
    ) -> Ledger:
        """Build a ledger from frames with canonical columns, filling in what is missing."""
        invoices = invoices.copy()
        for column in INVOICE_COLUMNS:
            if column not in invoices:
                invoices[column] = False if column == "is_credit_note" else None
        if customers is None:
            customers = pd.DataFrame({"customer_id": invoices["customer_id"].unique()})
        customers = customers.copy()
        for column in CUSTOMER_COLUMNS:
            if column not in customers:
                customers[column] = None
        frames = {
            "invoices": invoices,
            "customers": customers,
            "disputes": _or_empty(
                disputes, ["customer_id", "invoice_id", "opened_date", "resolved_date"]
            ),
            "interactions": _or_empty(interactions, ["customer_id", "date", "topic"]),
            "indicators": _or_empty(indicators, ["name", "key", "period", "value"]),
            "promises": _or_empty(promises, PROMISE_COLUMNS),
        }
        for name, columns in DATE_COLUMNS.items():
            for column in columns:
                frames[name][column] = _to_day(frames[name][column])
        frames["indicators"]["key"] = frames["indicators"]["key"].fillna("").astype(str)
        for name in ("invoices", "customers", "disputes", "interactions", "promises"):
            frames[name]["customer_id"] = frames[name]["customer_id"].astype(str)
        frames["invoices"]["amount"] = frames["invoices"]["amount"].astype(float)
        frames["invoices"]["is_credit_note"] = frames["invoices"]["is_credit_note"].astype(bool)
        return cls(**frames)

    def for_customers(self, customer_ids: Iterable[str]) -> Ledger:
        """The part of the ledger about ``customer_ids`` (economic indicators are kept whole)."""
        wanted = set(customer_ids)
        return replace(
            self,
            invoices=self.invoices[self.invoices["customer_id"].isin(wanted)],
            customers=self.customers[self.customers["customer_id"].isin(wanted)],
            disputes=self.disputes[self.disputes["customer_id"].isin(wanted)],
            interactions=self.interactions[self.interactions["customer_id"].isin(wanted)],
            promises=self.promises[self.promises["customer_id"].isin(wanted)],
        )

    @property
    def as_of(self) -> pd.Timestamp:
        """The day after the newest date the ledger records: what it knows is known by then.

        An export is a snapshot; an invoice still unpaid in it was unpaid on that day, not
        necessarily today. Labels of a ledger are read as of this day.
        """
        dates = [
            self.invoices["issue_date"].max(),
            self.invoices["settled_date"].max(),
            self.disputes["opened_date"].max(),
            self.disputes["resolved_date"].max(),
            self.interactions["date"].max(),
        ]
        known = [d for d in dates if pd.notna(d)]
        if not known:
            raise ValueError("an empty ledger has no as-of date")
        return pd.Timestamp(max(known)) + pd.Timedelta(days=1)

    @property
    def invoice_extra_columns(self) -> list[str]:
        return [c for c in self.invoices.columns if c.startswith(INVOICE_EXTRA_PREFIX)]

    @property
    def customer_extra_columns(self) -> list[str]:
        return [c for c in self.customers.columns if c.startswith(CUSTOMER_EXTRA_PREFIX)]


def load_ledger(engine: Engine, *, customer_ids: Iterable[str] | None = None) -> Ledger:
    """Read the ledger from the database, optionally only for some customers.

    Parameters
    ----------
    engine : Engine
        A migrated latepay database.
    customer_ids : iterable of str, optional
        Restrict customers, invoices, disputes and interactions to these customers; live
        scoring reads one customer's history this way.
    """
    wanted = None if customer_ids is None else sorted(set(customer_ids))

    def select(table, columns):
        query = sa.select(*[_as_stored(table.__table__.c[c]) for c in columns])
        if wanted is not None and "customer_id" in columns:
            query = query.where(table.__table__.c.customer_id.in_(wanted))
        return query

    with engine.connect() as connection:
        invoices = read_unconverted(connection, select(Invoice, [*INVOICE_COLUMNS, "extra"]))
        customers = read_unconverted(connection, select(Customer, [*CUSTOMER_COLUMNS, "extra"]))
        disputes = read_unconverted(
            connection,
            select(Dispute, ["customer_id", "invoice_id", "opened_date", "resolved_date"]),
        )
        interactions = read_unconverted(
            connection, select(Interaction, ["customer_id", "date", "topic"])
        )
        indicators = read_unconverted(
            connection, select(EconomicIndicator, ["name", "key", "period", "value"])
        )
        promises = _read_promises(connection, wanted)
    return Ledger.from_frames(
        invoices=_expand_extra(invoices, INVOICE_EXTRA_PREFIX),
        customers=_expand_extra(customers, CUSTOMER_EXTRA_PREFIX),
        disputes=disputes,
        interactions=interactions,
        indicators=indicators,
        promises=promises,
    )


def _as_stored(column: sa.Column) -> sa.ColumnElement:
    """``column`` read as the driver gives it, converted later a whole column at a time.

    SQLAlchemy would turn each stored date text, number and flag into a Python object one value
    at a time, which costs more than reading the rows; :meth:`Ledger.from_frames` parses whole
    columns instead (ISO date text from SQLite and date objects from PostgreSQL alike). ``extra``
    stays the text stored, decoded by :func:`_expand_extra` once per distinct text.
    """
    if column.name == "extra":
        raw = sa.Text
    elif isinstance(column.type, sa.Date):
        raw = sa.String
    elif isinstance(column.type, sa.Numeric):
        raw = sa.Float
    elif isinstance(column.type, sa.Boolean):
        raw = sa.Integer
    else:
        return column
    return sa.type_coerce(column, raw).label(column.name)


def _read_promises(connection: sa.Connection, wanted: list[str] | None) -> pd.DataFrame:
    """Collectors' promises to pay (outcomes), with the customer of their invoice."""
    query = (
        sa.select(
            Invoice.customer_id, Outcome.invoice_id, Outcome.recorded_at, Outcome.promised_date
        )
        .join(Invoice, Invoice.invoice_id == Outcome.invoice_id)
        .where(Outcome.kind == "promise_to_pay", Outcome.promised_date.is_not(None))
    )
    if wanted is not None:
        query = query.where(Invoice.customer_id.in_(wanted))
    rows = connection.execute(query).all()
    return pd.DataFrame(
        {
            "customer_id": [row.customer_id for row in rows],
            "invoice_id": [row.invoice_id for row in rows],
            # Recorded moments are UTC; the day in UTC is the day the promise became known.
            "recorded_date": [as_utc(row.recorded_at).date() for row in rows],
            "promised_date": [row.promised_date for row in rows],
        },
        columns=PROMISE_COLUMNS,
    )


def _expand_extra(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Turn the JSON ``extra`` column into one prefixed column per declared feature.

    An export repeats a handful of feature combinations over millions of rows, so each
    distinct JSON text is decoded once.
    """
    codes, texts = pd.factorize(frame.pop("extra").map(_json_text))
    decoded = [_as_dict(text) for text in texts]
    if not any(decoded):
        return frame
    distinct = pd.DataFrame.from_records(decoded).add_prefix(prefix)
    # Code -1 (no extra) is not a row of ``distinct``: it reads as missing values.
    expanded = distinct.reindex(codes).set_axis(frame.index)
    return pd.concat([frame, expanded], axis=1)


def _json_text(value: object) -> str | None:
    """The stored JSON as text (SQLite's driver gives text; PostgreSQL's, decoded values)."""
    if isinstance(value, str):
        return value or None
    if value is None or (isinstance(value, float) and value != value):
        return None
    return json.dumps(value, sort_keys=True)


def _as_dict(text: str) -> dict:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _or_empty(frame: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    frame = frame.copy()
    for column in columns:
        if column not in frame:
            frame[column] = None
    return frame


def _to_day(values: pd.Series) -> pd.Series:
    """Dates as ``datetime64[s]`` at midnight; empty values become NaT."""
    return pd.to_datetime(values, errors="raise").dt.normalize().astype("datetime64[s]")
