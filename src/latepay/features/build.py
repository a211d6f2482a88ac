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
from latepay.features.ledger import CUSTOMER_COLUMNS, Ledger

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
        self._customer_extra_columns = list(ledger.customer_extra_columns)
        self._customers = ledger.customers.drop_duplicates("customer_id").set_index("customer_id")[
            [
                *(c for c in CUSTOMER_COLUMNS if c != "customer_id"),
                *sorted(self._customer_extra_columns),
            ]
        ]
        self._codes = GroupCodes(
            ledger.customers["customer_id"],
            ledger.invoices["customer_id"],
            ledger.disputes["customer_id"],
            ledger.interactions["customer_id"],
            ledger.promises["customer_id"],
        )
        first_issue = ledger.invoices.groupby("customer_id")["issue_date"].min()
        # One slot more than there are codes: a customer without one (code -1) reads the
        # last slot, which stays missing.
        self._first_invoice_day = np.full(self._codes.size + 1, np.nan)
        self._first_invoice_day[self._codes.encode(first_issue.index)] = day_numbers(
            first_issue.to_numpy()
        )
        self._history = PaymentHistory(ledger.invoices, self._codes, grace_days=grace_days)
        self._same_kind = [
            SameKindHistory(ledger.invoices, column=column) for column in SAME_KIND_COLUMNS
        ]
        self._disputes = Disputes(ledger.disputes, self._codes)
        self._interactions = Interactions(ledger.interactions, self._codes)
        self._payment_methods = PaymentMethods(ledger.invoices, self._codes)
        self._broken_promises = BrokenPromises(ledger.promises, ledger.invoices, self._codes)
        self._economy = Economy(ledger.indicators)

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
        issue = pd.to_datetime(queries["issue_date"]).dt.normalize()
        due = pd.to_datetime(queries["due_date"]).dt.normalize()
        moment = (
            issue if moments is None else pd.to_datetime(pd.Series(moments).reset_index(drop=True))
        )
        query_days = day_numbers(moment.dt.normalize())
        customer_ids = queries["customer_id"].astype(str)
        groups = self._codes.lookup(customer_ids)
        amounts = queries["amount"].to_numpy(dtype=float)

        customers = self._customer_attributes(customer_ids)
        history = self._history.features(groups, query_days, amounts)
        parts = [
            _invoice_attributes(queries, issue, due),
            customers.drop(columns=["customer_since", "payment_terms_days"]),
            _terms_against_usual(issue, due, customers["payment_terms_days"]),
            self._customer_tenure(customers["customer_since"], groups, query_days),
            history,
            *(same_kind.features(queries, query_days) for same_kind in self._same_kind),
            _credit_utilisation(history["open_amount"], amounts, customers["credit_limit"]),
            self._disputes.features(groups, query_days, history["customer_invoice_count"]),
            self._interactions.features(groups, query_days),
            self._payment_methods.features(groups, query_days, queries["payment_method"]),
            self._broken_promises.features(groups, query_days),
            self._economy.features(customers, query_days),
        ]
        features = pd.concat([part.reset_index(drop=True) for part in parts], axis=1)
        features.index = original_index
        return features

    def _customer_attributes(self, customer_ids: pd.Series) -> pd.DataFrame:
        out = self._customers.reindex(customer_ids.to_numpy()).reset_index(drop=True)
        for column in ("industry", "country", "segment"):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
        for column in ("credit_limit", "payment_terms_days"):
            out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
        # Per query, not once for the whole table: whether an extra column is numeric depends
        # on the values asked about, as it does for the invoice extras.
        for column in self._customer_extra_columns:
            out[column] = _numeric_if_possible(out[column])
        return out

    def _customer_tenure(
        self, customer_since: pd.Series, groups: np.ndarray, query_days: np.ndarray
    ) -> pd.DataFrame:
        """Days the customer has been known: since customer_since, else since its first
        invoice."""
        first_invoice_day = self._first_invoice_day[groups]
        # An invoice issued on or after the moment is not yet known.
        first_invoice_day[first_invoice_day >= query_days] = np.nan
        since_day = np.where(
            customer_since.notna().to_numpy(),
            day_numbers(pd.to_datetime(customer_since)).astype(float),
            np.nan,
        )
        known_since = np.fmin(since_day, first_invoice_day)
        return pd.DataFrame({"customer_tenure_days": query_days - known_since})


def categorical_features(features: pd.DataFrame) -> list[str]:
    """Names of the categorical columns among ``features`` (base ones and text extras)."""
    return [
        column
        for column in features.columns
        if column in BASE_CATEGORICAL
        or (column.startswith(("inv_", "cust_")) and features[column].dtype == object)
    ]


def _invoice_attributes(queries: pd.DataFrame, issue: pd.Series, due: pd.Series) -> pd.DataFrame:
    amount = queries["amount"].astype(float)
    month_end = issue + pd.offsets.MonthEnd(0)
    is_month_end = (month_end - issue).dt.days < 3
    out = pd.DataFrame(
        {
            "amount_log": np.sign(amount) * np.log1p(amount.abs()),
            "terms_days": (due - issue).dt.days.astype(float),
            "issue_weekday": issue.dt.day_of_week.astype(float),
            "issue_month": issue.dt.month.astype(float),
            "is_month_end": is_month_end.astype(float),
            "is_quarter_end": (is_month_end & issue.dt.month.isin([3, 6, 9, 12])).astype(float),
            "payment_method": queries["payment_method"],
            "channel": queries["channel"],
            "currency": queries["currency"],
        }
    )
    for column in sorted(c for c in queries.columns if c.startswith("inv_")):
        out[column] = _numeric_if_possible(queries[column])
    return out


def _terms_against_usual(issue: pd.Series, due: pd.Series, usual_terms: pd.Series) -> pd.DataFrame:
    """Days of terms this invoice gives beyond (or short of) the customer's agreed terms.

    Customers keep their own payment rhythm: an invoice with shorter terms than agreed is
    paid on the usual schedule, and so late.
    """
    return pd.DataFrame({"terms_vs_usual_days": (due - issue).dt.days - usual_terms})


def _credit_utilisation(
    open_amount: pd.Series, amounts: np.ndarray, credit_limit: pd.Series
) -> pd.DataFrame:
    limit = credit_limit.to_numpy(dtype=float)
    utilisation = np.full(len(limit), np.nan)
    np.divide(open_amount.to_numpy() + amounts, limit, out=utilisation, where=limit > 0)
    return pd.DataFrame({"credit_utilisation": utilisation})


def _optional(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series([None] * len(frame), dtype=object)
    values = frame[column].astype(object)
    return values.where(values.notna(), None)


_BOOLEAN_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


def _numeric_if_possible(values: pd.Series) -> pd.Series:
    """Each extra value as a number when it is one (booleans count as 0/1), else as text.

    Decided value by value, so a value's feature never depends on which other invoices are
    scored with it: "False" is 0 whether or not another invoice in the batch says 1.
    """
    if values.dtype == bool:
        return values.astype(float)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    words = values.astype(str).str.strip().str.lower()
    numbers = words.map(_BOOLEAN_WORDS).fillna(pd.to_numeric(values, errors="coerce"))
    if (numbers.notna() | values.isna()).all():
        return numbers.astype(float)
    return values.astype(object).where(numbers.isna(), numbers).where(values.notna(), None)
