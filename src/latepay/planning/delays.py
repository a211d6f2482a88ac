"""How invoices were paid relative to their due dates, as known at the start of a day.

The forecast and the reserve need the ledger's own record of payment delays where the model
says nothing: when, before the due date, on-time invoices are paid; how the long delays run
out; how often very late money never comes; how each customer usually pays.

**Days late** of a settled invoice is ``settled_date - due_date`` in days (negative when paid
early). Only what was known at the start of ``as_of`` counts: invoices settled before it are
observed; invoices issued before it and still open are *censored*: all we know is that they
were not paid up to the day before ``as_of``. The survival curve ``P(days late > t)`` is the
Kaplan-Meier estimate over both, so the invoices still open (the worst ones, often) weigh in
rather than being dropped, and a curve that never reaches zero says some money never came.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from latepay.features.labels import LabelSpec


@dataclass(frozen=True)
class DelayHistory:
    """Payment delays observed before a day (see the module's docstring).

    Attributes
    ----------
    on_time_days, on_time_shares
        The distinct days late (<= grace days) of invoices paid on time and each one's share
        of them; ``[0]`` and ``[1.0]`` (paid on the due date) when none was.
    event_days, survival
        Kaplan-Meier: ``survival[i]`` is P(days late > ``event_days[i]``); the curve is a step
        function, 1 before the first event day and flat after the last.
    settled
        Invoices settled before the day.
    """

    on_time_days: np.ndarray
    on_time_shares: np.ndarray
    event_days: np.ndarray
    survival: np.ndarray
    settled: int

    def survival_at(self, days: np.ndarray) -> np.ndarray:
        """P(days late > ``days``), elementwise."""
        index = np.searchsorted(self.event_days, np.asarray(days), side="right") - 1
        values = np.concatenate([[1.0], self.survival])
        return values[index + 1]

    def on_time_cdf(self, days: np.ndarray) -> np.ndarray:
        """P(days late <= ``days`` | paid on time), elementwise."""
        index = np.searchsorted(self.on_time_days, np.asarray(days), side="right")
        return np.concatenate([[0.0], np.cumsum(self.on_time_shares)])[index]

    def unpaid_share(self, after_days: int, still_unpaid_days: int) -> float | None:
        """Of the invoices unpaid ``after_days`` past due, the share still unpaid
        ``still_unpaid_days`` past due; None when no invoice stayed unpaid that long."""
        reached = float(self.survival_at(np.array([after_days]))[0])
        if reached <= 0:
            return None
        return float(self.survival_at(np.array([still_unpaid_days]))[0]) / reached


def days_late(invoices: pd.DataFrame) -> pd.Series:
    """``settled_date - due_date`` in days (NaN for open invoices)."""
    return (invoices["settled_date"] - invoices["due_date"]).dt.days


def observe_delays(invoices: pd.DataFrame, as_of: dt.date, spec: LabelSpec) -> DelayHistory:
    """The delays of ``invoices`` known at the start of ``as_of``.

    Parameters
    ----------
    invoices : DataFrame
        ``issue_date``, ``due_date``, ``settled_date`` (datetime64) and ``is_credit_note``.
    as_of : date
    spec : LabelSpec
        Its grace days tell on-time payments from late ones.
    """
    day = pd.Timestamp(as_of)
    known = invoices[(invoices["issue_date"] < day) & ~invoices["is_credit_note"].astype(bool)]
    settled = known["settled_date"].notna() & (known["settled_date"] < day)
    late_days = days_late(known[settled]).to_numpy(dtype=np.int64)
    # An invoice open at the start of as_of was unpaid on every day before it.
    censored_days = ((day - known.loc[~settled, "due_date"]).dt.days - 1).to_numpy(np.int64)

    on_time = late_days[late_days <= spec.grace_days]
    if len(on_time):
        on_time_days, counts = np.unique(on_time, return_counts=True)
        on_time_shares = counts / counts.sum()
    else:
        on_time_days, on_time_shares = np.array([0]), np.array([1.0])

    event_days, survival = _kaplan_meier(late_days, censored_days)
    return DelayHistory(
        on_time_days=on_time_days,
        on_time_shares=on_time_shares,
        event_days=event_days,
        survival=survival,
        settled=len(late_days),
    )


def _kaplan_meier(event_days: np.ndarray, censored_days: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct event days and P(days late > day) at each (censored: known > their day)."""
    if len(event_days) == 0:
        return np.array([], dtype=np.int64), np.array([])
    days, events = np.unique(event_days, return_counts=True)
    # At risk on a day: paid that day or later, or known unpaid through that day.
    at_risk = (len(event_days) - np.searchsorted(np.sort(event_days), days, side="left")) + (
        len(censored_days) - np.searchsorted(np.sort(censored_days), days, side="left")
    )
    return days, np.cumprod(1.0 - events / at_risk)


def customer_delays(invoices: pd.DataFrame, as_of: dt.date, spec: LabelSpec) -> pd.DataFrame:
    """Each customer's record of invoices settled before ``as_of``.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``: ``settled``, ``paid_late`` (more than grace days late),
        ``mean_days_late`` (over all settled, negative when early on average),
        ``mean_days_when_late`` (over the late ones; NaN without any) and one ``share_<bucket>``
        column per bucket of ``spec`` (shares of the settled invoices).
    """
    day = pd.Timestamp(as_of)
    settled = invoices[
        invoices["settled_date"].notna()
        & (invoices["settled_date"] < day)
        & ~invoices["is_credit_note"].astype(bool)
    ]
    frame = pd.DataFrame({"customer_id": settled["customer_id"], "days": days_late(settled)})
    late = frame["days"] > spec.grace_days
    bucket = np.where(late, spec.late_bucket(np.maximum(frame["days"].to_numpy(), 1)), 0)
    grouped = frame.groupby("customer_id")
    table = pd.DataFrame(
        {
            "settled": grouped.size(),
            "paid_late": late.groupby(frame["customer_id"]).sum(),
            "mean_days_late": grouped["days"].mean(),
            "mean_days_when_late": frame["days"].where(late).groupby(frame["customer_id"]).mean(),
        }
    )
    for k, name in enumerate(spec.bucket_names):
        table[f"share_{name}"] = (
            pd.Series(bucket == k, index=frame.index).groupby(frame["customer_id"]).mean()
        )
    return table
