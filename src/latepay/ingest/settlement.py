"""Settlement from payments: an invoice is settled on the day its payments cover it.

With partial payments, the settled date is the ``paid_date`` of the payment that brings the
cumulative amount paid to the invoice amount (within half a cent); an invoice its payments do
not yet cover is open (``settled_date`` NULL). Invoices without any payment keep the settled
date their own file gave them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from latepay.db.tables import Invoice, Payment
from latepay.ingest.bulk import fetch_frame, update_frame
from latepay.ingest.fingerprint import canonical_text
from latepay.ingest.lookup import is_in, lookup

SETTLEMENT_TOLERANCE = 0.005


def settlement_dates(payments: pd.DataFrame, invoice_amounts: pd.Series) -> pd.Series:
    """The date each invoice's payments first cover its amount.

    Parameters
    ----------
    payments
        ``invoice_id``, ``paid_date`` (datetime64) and ``amount`` (float).
    invoice_amounts
        Amount of each invoice, indexed by ``invoice_id``; a credit note (negative amount) is
        covered when its (negative) payments reach it.

    Returns
    -------
    pandas.Series
        Settled date (NaT when not covered) of each invoice of ``invoice_amounts`` that has
        payments, indexed by ``invoice_id``.

    Examples
    --------
    >>> payments = pd.DataFrame({
    ...     "invoice_id": ["A", "A", "B"],
    ...     "paid_date": pd.to_datetime(["2024-01-10", "2024-02-01", "2024-01-05"]),
    ...     "amount": [60.0, 40.0, 10.0],
    ... })
    >>> settlement_dates(payments, pd.Series({"A": 100.0, "B": 50.0})).dt.strftime("%Y-%m-%d")
    invoice_id
    A    2024-02-01
    B           NaN
    Name: paid_date, dtype: str
    """
    payments = payments[is_in(payments["invoice_id"], invoice_amounts.index)]
    # Integer codes instead of ids: sorting and grouping a million strings is slow.
    invoice_codes, invoice_ids = pd.factorize(payments["invoice_id"])
    paid_dates = payments["paid_date"].to_numpy()
    order = np.lexsort((paid_dates, invoice_codes))
    codes, dates = invoice_codes[order], paid_dates[order]
    amounts = payments["amount"].to_numpy(dtype=np.float64)[order]
    paid_so_far = pd.Series(amounts).groupby(codes, sort=False).cumsum().to_numpy()
    owed = invoice_amounts.reindex(invoice_ids).to_numpy(dtype=np.float64)[codes]
    covered = np.sign(owed) * paid_so_far >= np.abs(owed) - SETTLEMENT_TOLERANCE
    settled = np.full(len(invoice_ids), np.datetime64("NaT"), dtype=dates.dtype)
    # Rows are in date order within each invoice: its first covering row is the settlement.
    covering = np.flatnonzero(covered)
    settling_invoices, first = np.unique(codes[covering], return_index=True)
    settled[settling_invoices] = dates[covering[first]]
    return pd.Series(settled, index=pd.Index(invoice_ids, name="invoice_id"), name="paid_date")


def settlement_changes(payments: pd.DataFrame, invoices: pd.DataFrame) -> pd.DataFrame:
    """The invoices whose settled date the payments change, with their new settled date.

    Parameters
    ----------
    payments
        Every payment of the invoices concerned: ``invoice_id``, ``paid_date`` (datetime64),
        ``amount`` (float).
    invoices
        The invoices concerned as stored: ``invoice_id``, ``amount`` and ``settled_date``
        (text). One left without any payment (its payment was moved to another invoice) is
        open again.

    Returns
    -------
    pandas.DataFrame
        ``invoice_id`` and ``settled_date`` (NaT: open again) of each invoice that changes.
    """
    amounts = pd.Series(pd.to_numeric(invoices["amount"]).to_numpy(), index=invoices["invoice_id"])
    settled = settlement_dates(payments, amounts).reindex(amounts.index)
    stored = lookup(pd.Series(settled.index), invoices["invoice_id"], invoices["settled_date"])
    changed = canonical_text(settled).fillna("").to_numpy() != stored.fillna("").to_numpy()
    return pd.DataFrame(
        {"invoice_id": settled.index[changed], "settled_date": settled.to_numpy()[changed]}
    )


def write_settlements(connection: Connection, changes: pd.DataFrame, *, now: dt.datetime) -> int:
    """Store :func:`settlement_changes`; return how many invoices changed."""
    if len(changes):
        update_frame(
            connection, Invoice.__table__, changes, ["invoice_id"], ["settled_date"], now=now
        )
    return len(changes)


def payments_once_written(stored: pd.DataFrame, incoming: pd.DataFrame) -> pd.DataFrame:
    """The payments there will be once ``incoming`` is written over ``stored``.

    Parameters
    ----------
    stored
        Stored payments as text (``payment_id``, ``invoice_id``, ``paid_date``, ``amount``),
        read before the write.
    incoming
        The payments file's canonical rows; they replace stored payments with the same id.

    Returns
    -------
    pandas.DataFrame
        ``invoice_id``, ``paid_date`` (datetime64) and ``amount`` (float) of both.
    """
    kept = stored[~is_in(stored["payment_id"], incoming["payment_id"])]
    columns = ["invoice_id", "paid_date", "amount"]
    return pd.concat([_typed_payments(kept[columns]), incoming[columns]], ignore_index=True)


def resettle_invoices(connection: Connection, invoice_ids: pd.Series, *, now: dt.datetime) -> int:
    """Recompute, from all their stored payments, the settled date of the invoices named.

    Parameters
    ----------
    connection
        An open connection inside the file's transaction.
    invoice_ids
        Invoices whose amounts may have changed; those without payments are left alone.
    now
        The ``updated_at`` of every invoice whose settled date changes.

    Returns
    -------
    int
        How many invoices' settled date changed.
    """
    payments = fetch_frame(
        connection,
        Payment.__table__,
        ["invoice_id", "paid_date", "amount"],
        where_in=("invoice_id", invoice_ids),
    )
    if payments.empty:
        return 0
    invoices = fetch_frame(
        connection,
        Invoice.__table__,
        ["invoice_id", "amount", "settled_date"],
        where_in=("invoice_id", payments["invoice_id"]),
    )
    changes = settlement_changes(_typed_payments(payments), invoices)
    return write_settlements(connection, changes, now=now)


def _typed_payments(payments: pd.DataFrame) -> pd.DataFrame:
    return payments.assign(
        paid_date=pd.to_datetime(payments["paid_date"], format="%Y-%m-%d").astype("datetime64[s]"),
        amount=pd.to_numeric(payments["amount"]).astype("float64"),
    )
