"""Aggregations that describe the labelled invoices before any model sees them.

Each function takes the invoices table of :class:`~latepay.evaluation.report.DataOverview`
(invoice_id, customer_id, issue_date, amount, is_late, days_late and optional segment columns)
and returns a small DataFrame or dict ready to plot or print.
"""

from __future__ import annotations

import pandas as pd

#: Columns that split invoices into groups worth comparing, when a source provides them.
SEGMENT_COLUMNS = ("industry", "country", "segment", "channel", "payment_method")

#: Label shown for invoices whose segment value is missing.
MISSING_LABEL = "(missing)"

#: Label for the rarest segment values, folded together so a bar chart stays readable.
OTHER_LABEL = "(other)"


def data_summary(invoices: pd.DataFrame) -> dict[str, int | float | pd.Timestamp]:
    """Headline counts of the labelled invoices.

    Parameters
    ----------
    invoices : DataFrame
        Labelled invoices with ``customer_id``, ``issue_date`` and ``is_late``.

    Returns
    -------
    dict
        ``n_invoices``, ``n_customers``, ``n_late``, ``late_rate`` (NaN with no invoices),
        ``first_issue_date`` and ``last_issue_date`` (NaT with no invoices).
    """
    issue_dates = pd.to_datetime(invoices["issue_date"])
    n_late = int(invoices["is_late"].sum())
    return {
        "n_invoices": len(invoices),
        "n_customers": int(invoices["customer_id"].nunique()),
        "n_late": n_late,
        "late_rate": n_late / len(invoices) if len(invoices) else float("nan"),
        "first_issue_date": issue_dates.min(),
        "last_issue_date": issue_dates.max(),
    }


def late_rate_by_month(invoices: pd.DataFrame) -> pd.DataFrame:
    """Share of invoices paid late, by month of issue.

    Returns
    -------
    DataFrame
        ``month`` (Timestamp of the month's first day), ``count`` and ``late_rate``, in time
        order. Months without invoices are absent.
    """
    month = pd.to_datetime(invoices["issue_date"]).dt.to_period("M").dt.to_timestamp()
    table = invoices.groupby(month.rename("month"))["is_late"].agg(count="size", late_rate="mean")
    return table.reset_index()


def available_segments(invoices: pd.DataFrame) -> list[str]:
    """The segment columns of :data:`SEGMENT_COLUMNS` that hold at least one value."""
    return [
        column
        for column in SEGMENT_COLUMNS
        if column in invoices.columns and invoices[column].notna().any()
    ]


def late_rate_by_segment(invoices: pd.DataFrame, column: str, max_values: int = 15) -> pd.DataFrame:
    """Share of invoices paid late for each value of one segment column.

    Parameters
    ----------
    invoices : DataFrame
    column : str
        A segment column, e.g. ``"industry"``.
    max_values : int, default 15
        The most frequent values are kept; the rest are folded into ``"(other)"`` so that a
        country column with a hundred values still gives a readable chart.

    Returns
    -------
    DataFrame
        ``value`` (str; missing values appear as ``"(missing)"``), ``count`` and ``late_rate``,
        most frequent first with ``"(other)"`` last.
    """
    values = invoices[column].astype("string").fillna(MISSING_LABEL)
    frequent = values.value_counts().index[:max_values]
    values = values.where(values.isin(frequent), OTHER_LABEL)
    table = (
        invoices.groupby(values.rename("value"))["is_late"]
        .agg(count="size", late_rate="mean")
        .reset_index()
    )
    table["is_other"] = table["value"] == OTHER_LABEL
    table = table.sort_values(["is_other", "count"], ascending=[True, False], kind="stable")
    return table.drop(columns="is_other").reset_index(drop=True)


def missing_values(invoices: pd.DataFrame) -> pd.DataFrame:
    """How much of each column is missing.

    Returns
    -------
    DataFrame
        ``column``, ``missing_count`` and ``missing_share`` (0 to 1), one row per column of
        ``invoices`` in its original order.
    """
    missing = invoices.isna().sum()
    return pd.DataFrame(
        {
            "column": missing.index,
            "missing_count": missing.to_numpy(dtype=int),
            "missing_share": missing.to_numpy() / len(invoices) if len(invoices) else 0.0,
        }
    )
