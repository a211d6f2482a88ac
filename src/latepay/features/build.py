"""One entry point for every feature of an invoice, as of a moment.

:func:`build_features` is the only way features are made: training, backtests, batch scoring
and the live API call it, so an invoice scored at issuance gets exactly the features a backtest
gives it for the same moment. Events dated on or after the moment are never used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from latepay.features.behaviour import BrokenPromises, Disputes, Interactions, PaymentMethods
from latepay.features.economy import Economy
from latepay.features.events import GroupCodes, day_numbers
from latepay.features.history import PaymentHistory, SameKindHistory
from latepay.features.ledger import Ledger

# Categorical features; every other feature is numeric.
BASE_CATEGORICAL = ("payment_method", "channel", "currency", "industry", "country", "segment")
# The customer's record on invoices sharing these attributes with the one scored.
SAME_KIND_COLUMNS = ("channel", "payment_method")
QUERY_REQUIRED_COLUMNS = ("customer_id", "issue_date", "due_date", "amount")
QUERY_OPTIONAL_COLUMNS = ("payment_method", "channel", "currency")


def build_features(
    ledger: Ledger,
    queries: pd.DataFrame,
    *,
    moments: pd.Series | None = None,
    grace_days: int = 0,
) -> pd.DataFrame:
    """Features of each invoice in ``queries`` as of its moment.

    Parameters
    ----------
    ledger : Ledger
        What is known; only events strictly before each moment are used.
    queries : DataFrame
        Invoices to describe, with at least customer_id, issue_date, due_date and amount, and
        optionally payment_method, channel, currency and ``inv_`` extra features. They may or may
        not be part of the ledger.
    moments : Series of datetime, optional
        The moment each invoice is scored, aligned with ``queries``; defaults to its issue date.
        Only the day counts: events on the moment's day are not yet known.
    grace_days : int, default 0
        Days after the due date that still count as on time in the customer's history.

    Returns
    -------
    DataFrame
        One row per query, same index; categorical features as strings (see
        :func:`categorical_features`), the others as floats.
    """
    return PreparedLedger(ledger, grace_days=grace_days).features(queries, moments=moments)


class PreparedLedger:
    """A ledger made ready to answer feature questions: :func:`build_features` in two halves.

    Preparing sorts every customer's events into streams with running totals, once; asking
    then costs binary searches and arithmetic per query. A caller that asks many times about
    the same ledger (the scoring service, between changes to it) prepares once.

    Parameters
    ----------
    ledger : Ledger
    grace_days : int, default 0
        Days after the due date that still count as on time in the customer's history.
    """

    def __init__(self, ledger: Ledger, *, grace_days: int = 0) -> None:
        self.grace_days = grace_days
        self._codes = GroupCodes(
            ledger.customers["customer_id"],
            ledger.invoices["customer_id"],
            ledger.disputes["customer_id"],
            ledger.interactions["customer_id"],
            ledger.promises["customer_id"],
        )
        self._customers = _CustomerTable(ledger, self._codes)
        first_issue = ledger.invoices.groupby("customer_id")["issue_date"].min()
        # One slot more than there are codes: a customer without one (code -1) reads the
        # last slot, which stays missing.
        self._first_invoice_day = np.full(self._codes.size + 1, np.nan)
        self._first_invoice_day[self._codes.encode(first_issue.index)] = day_numbers(
            first_issue.to_numpy()
        )
        self._history = PaymentHistory(ledger.invoices, self._codes, grace_days=grace_days)
        self._same_kind = [
            SameKindHistory(ledger.invoices, self._codes, column=column)
            for column in SAME_KIND_COLUMNS
        ]
        self._disputes = Disputes(ledger.disputes, self._codes)
        self._interactions = Interactions(ledger.interactions, self._codes)
        self._payment_methods = PaymentMethods(ledger.invoices, self._codes)
        self._broken_promises = BrokenPromises(ledger.promises, ledger.invoices, self._codes)
        self._economy = Economy(ledger.indicators)
        # Which series of each indicator every customer reads, by code (and for code -1).
        self._economy_keys = self._economy.key_codes(self._customers.join_columns())

    def features(self, queries: pd.DataFrame, *, moments: pd.Series | None = None) -> pd.DataFrame:
        """Features of each invoice in ``queries`` as of its moment; see :func:`build_features`."""
        missing = [c for c in QUERY_REQUIRED_COLUMNS if c not in queries]
        if missing:
            raise ValueError(
                f"queries lack the columns {missing}; they have {list(queries.columns)}"
            )
        original_index = queries.index
        queries = queries.reset_index(drop=True)
        for column in QUERY_OPTIONAL_COLUMNS:
            queries[column] = _optional(queries, column)
        issue = _days(queries["issue_date"])
        due = _days(queries["due_date"])
        query_days = day_numbers(
            issue if moments is None else _days(pd.Series(moments).reset_index(drop=True))
        )
        groups = self._codes.lookup(queries["customer_id"].astype(str))
        amounts = queries["amount"].to_numpy(dtype=float)

        customers = self._customers.rows(groups)
        history = self._history.features(groups, query_days, amounts)
        columns = {
            **_invoice_attributes(queries, issue, due, amounts),
            **{
                name: values
                for name, values in customers.items()
                if name not in ("customer_since_day", "payment_terms_days")
            },
            "terms_vs_usual_days": _terms_days(issue, due) - customers["payment_terms_days"],
            "customer_tenure_days": self._customer_tenure(
                customers["customer_since_day"], groups, query_days
            ),
            **history,
        }
        for same_kind in self._same_kind:
            columns.update(same_kind.features(groups, queries[same_kind.column], query_days))
        columns["credit_utilisation"] = _credit_utilisation(
            history["open_amount"], amounts, customers["credit_limit"]
        )
        columns.update(
            self._disputes.features(groups, query_days, history["customer_invoice_count"])
        )
        columns.update(self._interactions.features(groups, query_days))
        columns.update(
            self._payment_methods.features(groups, query_days, queries["payment_method"])
        )
        columns.update(self._broken_promises.features(groups, query_days))
        columns.update(
            self._economy.features([keys[groups] for keys in self._economy_keys], query_days)
        )
        features = pd.DataFrame(columns, index=pd.RangeIndex(len(queries)))
        features.index = original_index
        return features

    def _customer_tenure(
        self, since_day: np.ndarray, groups: np.ndarray, query_days: np.ndarray
    ) -> np.ndarray:
        """Days the customer has been known: since customer_since, else since its first
        invoice."""
        first_invoice_day = self._first_invoice_day[groups]
        # An invoice issued on or after the moment is not yet known.
        first_invoice_day[first_invoice_day >= query_days] = np.nan
        return query_days - np.fmin(since_day, first_invoice_day)


class _CustomerTable:
    """The customers' own attributes, one row per customer code and a last, empty one for
    code -1 (a customer not on file), converted once so a query only picks rows."""

    def __init__(self, ledger: Ledger, codes: GroupCodes) -> None:
        table = ledger.customers.drop_duplicates("customer_id").set_index("customer_id")
        rows = table.index.get_indexer(codes.ids)
        # Customers known only from other tables read the empty row too.
        self._rows = np.append(np.where(rows >= 0, rows, len(table)), len(table))
        self._text = {
            column: _with_empty_row(
                table[column].astype(object).where(table[column].notna(), None).to_numpy(),
                None,
            )
            for column in ("industry", "country", "segment")
        }
        self._numbers = {
            column: _with_empty_row(
                pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float), np.nan
            )
            for column in ("credit_limit", "payment_terms_days")
        }
        since = table["customer_since"]
        self._since_day = _with_empty_row(
            np.where(since.notna().to_numpy(), day_numbers(since).astype(float), np.nan), np.nan
        )
        self.extra_columns = sorted(ledger.customer_extra_columns)
        # Extras stay as stored: whether one is a number is decided per query (see
        # :func:`_numeric_if_possible`), as it is for the invoice extras; what each value
        # reads as is worked out here, once.
        extras = pd.concat(
            [table[self.extra_columns], pd.DataFrame(index=[None])], ignore_index=True
        )
        self._extras = {column: _ExtraColumn(extras[column]) for column in self.extra_columns}

    def rows(self, groups: np.ndarray) -> dict[str, np.ndarray | pd.Series]:
        """Attribute columns of the customers of ``groups`` (codes, -1 for none), in the
        order features list them, with ``customer_since_day`` and ``payment_terms_days``."""
        rows = self._rows[groups]
        # As object Series: a frame would otherwise turn arrays of text into strings.
        out: dict[str, np.ndarray | pd.Series] = {
            c: pd.Series(v[rows], dtype=object) for c, v in self._text.items()
        }
        out["credit_limit"] = self._numbers["credit_limit"][rows]
        for column, extra in self._extras.items():
            out[column] = extra.take(rows)
        out["payment_terms_days"] = self._numbers["payment_terms_days"][rows]
        out["customer_since_day"] = self._since_day[rows]
        return out

    def join_columns(self) -> pd.DataFrame:
        """industry and country of every code's customer (and of code -1, missing)."""
        return pd.DataFrame({c: self._text[c][self._rows] for c in ("industry", "country")})


class _ExtraColumn:
    """A customer extra column (with the empty row last), each value worked out once both
    ways :func:`_numeric_if_possible` may give it, so that a query only picks them."""

    def __init__(self, values: pd.Series) -> None:
        numbers = values.astype(float) if _held_as_numbers(values) else _numbers_in(values)
        self._is_text = _is_text(values, numbers).to_numpy()
        self._numbers = numbers.to_numpy(dtype=float)
        self._mixed = _numbers_and_text(values, numbers).to_numpy(dtype=object)

    def take(self, rows: np.ndarray) -> pd.Series:
        """``_numeric_if_possible`` of the values at ``rows``."""
        if self._is_text[rows].any():
            return pd.Series(self._mixed[rows], dtype=object)
        return pd.Series(self._numbers[rows])


def _with_empty_row(values: np.ndarray, missing: object) -> np.ndarray:
    return np.append(values, np.array([missing], dtype=values.dtype))


def _days(values: pd.Series) -> np.ndarray:
    """Dates (text or datetime) as whole days, NaT where missing."""
    return pd.to_datetime(values).to_numpy(dtype="datetime64[D]")


def categorical_features(features: pd.DataFrame) -> list[str]:
    """Names of the categorical columns among ``features`` (base ones and text extras)."""
    return [
        column
        for column in features.columns
        if column in BASE_CATEGORICAL
        or (column.startswith(("inv_", "cust_")) and features[column].dtype == object)
    ]


def _invoice_attributes(
    queries: pd.DataFrame, issue: np.ndarray, due: np.ndarray, amounts: np.ndarray
) -> dict[str, np.ndarray | pd.Series]:
    missing = np.isnat(issue)
    month = issue.astype("datetime64[M]")
    last_of_month = (month + 1).astype("datetime64[D]") - 1
    is_month_end = ~missing & ((last_of_month - issue).astype(np.int64) < 3)
    month_number = np.where(missing, np.nan, month.astype(np.int64) % 12 + 1)
    # 1970-01-01, day 0 of datetime64, was a Thursday (weekday 3 counting Monday as 0).
    weekday = np.where(missing, np.nan, (issue.astype(np.int64) + 3) % 7)
    out: dict[str, np.ndarray | pd.Series] = {
        "amount_log": np.sign(amounts) * np.log1p(np.abs(amounts)),
        "terms_days": _terms_days(issue, due),
        "issue_weekday": weekday,
        "issue_month": month_number,
        "is_month_end": is_month_end.astype(float),
        "is_quarter_end": (is_month_end & np.isin(month_number, (3, 6, 9, 12))).astype(float),
        "payment_method": queries["payment_method"],
        "channel": queries["channel"],
        "currency": queries["currency"],
    }
    for column in sorted(c for c in queries.columns if c.startswith("inv_")):
        out[column] = _numeric_if_possible(queries[column])
    return out


def _terms_days(issue: np.ndarray, due: np.ndarray) -> np.ndarray:
    """Days from issue to due date; NaN where either is missing."""
    days = (due - issue).astype(np.int64).astype(float)
    days[np.isnat(issue) | np.isnat(due)] = np.nan
    return days


def _credit_utilisation(
    open_amount: np.ndarray, amounts: np.ndarray, credit_limit: np.ndarray
) -> np.ndarray:
    utilisation = np.full(len(credit_limit), np.nan)
    np.divide(open_amount + amounts, credit_limit, out=utilisation, where=credit_limit > 0)
    return utilisation


def _optional(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series([None] * len(frame), dtype=object)
    values = np.array(frame[column].to_numpy(dtype=object), dtype=object)
    values[pd.isna(values)] = None
    return pd.Series(values, dtype=object)


_BOOLEAN_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


def _numeric_if_possible(values: pd.Series) -> pd.Series:
    """Each extra value as a number when it is one (booleans count as 0/1), else as text.

    Decided value by value, so a value's feature never depends on which other invoices are
    scored with it: "False" is 0 whether or not another invoice in the batch says 1.
    """
    if _held_as_numbers(values):
        return values.astype(float)
    return _numbers_or_text(values, _numbers_in(values))


def _held_as_numbers(values: pd.Series) -> bool:
    return values.dtype == bool or pd.api.types.is_numeric_dtype(values)


def _numbers_in(values: pd.Series) -> pd.Series:
    """The number each value reads as (a boolean word as 0/1), NaN for the others; value by
    value, so the numbers of a selection are the selection of the numbers."""
    words = values.astype(str).str.strip().str.lower()
    return words.map(_BOOLEAN_WORDS).fillna(pd.to_numeric(values, errors="coerce"))


def _numbers_or_text(values: pd.Series, numbers: pd.Series) -> pd.Series:
    """All numbers when every value is one (or missing), else numbers and text as objects."""
    if not _is_text(values, numbers).any():
        return numbers.astype(float)
    return _numbers_and_text(values, numbers)


def _is_text(values: pd.Series, numbers: pd.Series) -> pd.Series:
    """Whether each value is text that reads as no number (``numbers``: from _numbers_in)."""
    return values.notna() & numbers.isna()


def _numbers_and_text(values: pd.Series, numbers: pd.Series) -> pd.Series:
    """Each value as its number, else as its text, missing as None; value by value."""
    return values.astype(object).where(numbers.isna(), numbers).where(values.notna(), None)
