"""Accounts receivable as of a day: DSO, best-possible DSO, overdue share and aging.

**Open** at a day means at the close of that day: issued on or before it and not settled on or
before it. Credit notes are left out (they are kept in the ledger but are not money owed to
us, and the worklist and the forecast leave them out too). An open invoice's **outstanding**
amount is its amount less the partial payments received on or before the day.

**DSO** uses the period method: ``receivables / credit sales of the last N days x N`` (N =
:data:`DSO_WINDOW_DAYS`, 90 by default), where credit sales are the amounts of the invoices
issued in the N days up to and including the day. **Best-possible DSO** is the same with only
the current (not yet due) receivables: the DSO if every customer paid on its due date. Their
difference is what late payment costs in days.

**Aging** puts each open invoice's outstanding amount into a bucket by its days past due at
the day: ``current`` (not yet due), ``1-30``, ``31-60``, ``61-90`` and ``90+``.

Amounts are added as they are: call these functions per currency when the ledger holds
several (:func:`currencies` lists them); the ledger has no exchange rates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.frames import read_frame
from latepay.db.tables import Invoice, Payment

DSO_WINDOW_DAYS = 90
AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
# Upper edges (days past due) of every aging bucket but the last.
AGING_EDGES = (0, 30, 60, 90)
# ISO 4217 "no currency": the code given to invoices whose currency is not recorded.
NO_CURRENCY = "XXX"

INVOICE_FRAME_COLUMNS = [
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "currency",
    "settled_date",
    "is_credit_note",
]


@dataclass(frozen=True)
class ReceivablesSnapshot:
    """The receivables at the close of ``as_of``.

    ``dso`` and ``best_possible_dso`` are None when nothing was sold in the window;
    ``overdue_share`` is None when nothing is owed. ``aging`` maps each of
    :data:`AGING_BUCKETS` to its outstanding amount.
    """

    as_of: dt.date
    open_invoices: int
    receivables: float
    current: float
    overdue: float
    credit_sales: float
    window_days: int
    dso: float | None
    best_possible_dso: float | None
    overdue_share: float | None
    aging: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


class Receivables:
    """Invoices and their partial payments, indexed once so that many days are answered fast.

    A trend asks for dozens of days over a hundred thousand invoices; grouping the payments by
    invoice id again for each day would cost more than everything else on a dashboard page.
    Here payments are sorted by day once, and the amount received by each invoice up to a day
    is one weighted count over positions.

    Parameters
    ----------
    invoices : DataFrame
        :data:`INVOICE_FRAME_COLUMNS` (dates as datetime64; ``settled_date`` NaT when open).
    payments : DataFrame, optional
        ``invoice_id``, ``paid_date``, ``amount``: partial payments; those of invoices not in
        ``invoices`` are ignored.
    """

    def __init__(self, invoices: pd.DataFrame, payments: pd.DataFrame | None = None) -> None:
        self.invoices = invoices.reset_index(drop=True)
        self._issue = self.invoices["issue_date"].to_numpy(dtype="datetime64[ns]")
        self._settled = self.invoices["settled_date"].to_numpy(dtype="datetime64[ns]")
        self._counted = ~self.invoices["is_credit_note"].astype(bool).to_numpy()
        self._amount = self.invoices["amount"].to_numpy(dtype=float)
        if payments is None or payments.empty:
            payments = pd.DataFrame({"invoice_id": [], "paid_date": [], "amount": []})
        position = pd.Index(self.invoices["invoice_id"]).get_indexer(payments["invoice_id"])
        known = position >= 0
        paid_on = payments["paid_date"].to_numpy(dtype="datetime64[ns]")[known]
        order = np.argsort(paid_on, kind="stable")
        self._paid_on = paid_on[order]
        self._paid_position = position[known][order]
        self._paid_amount = payments["amount"].to_numpy(dtype=float)[known][order]

    def outstanding(self, as_of: dt.date) -> pd.DataFrame:
        """The invoices open at the close of ``as_of``, with ``outstanding`` and
        ``days_past_due``.

        Returns
        -------
        DataFrame
            The open rows of ``invoices`` plus ``outstanding`` (float: the amount less the
            payments received on or before ``as_of``, never below 0) and ``days_past_due``
            (int, negative before the due date).
        """
        day = np.datetime64(pd.Timestamp(as_of), "ns")
        settled = self._settled
        is_open = (self._issue <= day) & (np.isnat(settled) | (settled > day)) & self._counted
        received = np.searchsorted(self._paid_on, day, side="right")
        paid = np.bincount(
            self._paid_position[:received],
            weights=self._paid_amount[:received],
            minlength=len(self._amount),
        )
        frame = self.invoices[is_open].copy()
        frame["outstanding"] = np.clip(self._amount[is_open] - paid[is_open], 0.0, None)
        frame["days_past_due"] = (pd.Timestamp(as_of) - frame["due_date"]).dt.days.astype(int)
        return frame

    def credit_sales(self, as_of: dt.date, window_days: int) -> float:
        """Amount of the invoices issued in the ``window_days`` days up to ``as_of``."""
        day = np.datetime64(pd.Timestamp(as_of), "ns")
        start = day - np.timedelta64(window_days, "D")
        sold = (self._issue > start) & (self._issue <= day) & self._counted
        return float(self._amount[sold].sum())


def outstanding_invoices(
    invoices: pd.DataFrame, as_of: dt.date, payments: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The invoices open at the close of ``as_of``, less partial payments: see
    :meth:`Receivables.outstanding` (which answers many days faster)."""
    return Receivables(invoices, payments).outstanding(as_of)


def aging_bucket(days_past_due: np.ndarray) -> np.ndarray:
    """The :data:`AGING_BUCKETS` name of each days-past-due value."""
    index = np.searchsorted(AGING_EDGES, np.asarray(days_past_due), side="left")
    return np.asarray(AGING_BUCKETS, dtype=object)[index]


def receivables_snapshot(
    invoices: pd.DataFrame | Receivables,
    as_of: dt.date,
    *,
    payments: pd.DataFrame | None = None,
    window_days: int = DSO_WINDOW_DAYS,
) -> ReceivablesSnapshot:
    """DSO, best-possible DSO, overdue share and aging at the close of ``as_of``.

    See the module's docstring for the definitions; ``invoices`` and ``payments`` are those
    of :class:`Receivables` (or one already built, and ``payments`` left out), and
    ``window_days`` is the DSO's N.
    """
    if window_days < 1:
        raise ValueError(f"window_days must be 1 or more, got {window_days}")
    book = invoices if isinstance(invoices, Receivables) else Receivables(invoices, payments)
    owed = book.outstanding(as_of)
    buckets = aging_bucket(owed["days_past_due"].to_numpy())
    aging = {name: float(owed["outstanding"][buckets == name].sum()) for name in AGING_BUCKETS}
    receivables = float(owed["outstanding"].sum())
    current = aging["current"]
    credit_sales = book.credit_sales(as_of, window_days)
    per_day = credit_sales / window_days
    return ReceivablesSnapshot(
        as_of=pd.Timestamp(as_of).date(),
        open_invoices=len(owed),
        receivables=receivables,
        current=current,
        overdue=receivables - current,
        credit_sales=credit_sales,
        window_days=window_days,
        dso=receivables / per_day if per_day > 0 else None,
        best_possible_dso=current / per_day if per_day > 0 else None,
        overdue_share=(receivables - current) / receivables if receivables > 0 else None,
        aging=aging,
    )


def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    """The last day of every month from ``first``'s month to the month before ``last``'s, and
    ``last`` itself when it is not a month end (the current month so far)."""
    ends = [d.date() for d in pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="ME")]
    if not ends or ends[-1] != last:
        ends.append(last)
    return ends


def receivables_by_month(
    book: Receivables,
    *,
    first: dt.date,
    last: dt.date,
    window_days: int = DSO_WINDOW_DAYS,
) -> pd.DataFrame:
    """One :func:`receivables_snapshot` per day of :func:`month_ends`, as a trend table.

    Returns
    -------
    DataFrame
        One row per day: ``as_of``, ``open_invoices``, ``receivables``, ``current``,
        ``overdue``, ``credit_sales``, ``dso``, ``best_possible_dso``, ``overdue_share`` and
        one column per aging bucket.
    """
    rows = []
    for day in month_ends(first, last):
        snapshot = receivables_snapshot(book, day, window_days=window_days).to_dict()
        aging = snapshot.pop("aging")
        snapshot.pop("window_days")
        rows.append({**snapshot, **aging})
    return pd.DataFrame(rows)


def currencies(invoices: pd.DataFrame) -> list[str]:
    """The currencies of ``invoices``, sorted (:data:`NO_CURRENCY` for unrecorded ones)."""
    return sorted(invoices["currency"].fillna(NO_CURRENCY).unique())


def load_receivables(
    engine: Engine, *, open_on: dt.date | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every invoice (:data:`INVOICE_FRAME_COLUMNS`) and payment of the database.

    With ``open_on``, only the payments of invoices still open at the start of that day: what
    a forecast from that day needs, and a small part of a long history's payments.
    Dates come back as datetime64, a missing currency as :data:`NO_CURRENCY`.
    """
    columns = [Invoice.__table__.c[name] for name in INVOICE_FRAME_COLUMNS]
    with engine.connect() as connection:
        invoices = read_frame(connection, sa.select(*columns))
        query = sa.select(Payment.invoice_id, Payment.paid_date, Payment.amount)
        if open_on is not None:
            query = query.join(Invoice, Invoice.invoice_id == Payment.invoice_id).where(
                sa.or_(Invoice.settled_date.is_(None), Invoice.settled_date >= open_on)
            )
        payments = read_frame(connection, query)
    invoices["amount"] = invoices["amount"].astype(float)
    invoices["is_credit_note"] = invoices["is_credit_note"].astype(bool)
    invoices["currency"] = invoices["currency"].fillna(NO_CURRENCY)
    payments["amount"] = payments["amount"].astype(float)
    return invoices, payments
