"""Per-invoice reasons: the features that pushed a score up, in sentences a collector can say.

Contributions come from the model (LightGBM ``pred_contrib``: each feature's share of the
log-odds). Each feature has a sentence that reads its value — and, where it helps, the values
of related features in the same row ("paid 6 of 10 earlier invoices late").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# One invoice's features by name: a Series, or a row view of a frame (see top_reasons).
Row = Mapping[str, Any]


@dataclass(frozen=True)
class Reason:
    feature: str
    value: float | str | None
    contribution: float
    sentence: str

    def to_dict(self) -> dict:
        return {
            "feature": self.feature,
            "value": self.value,
            "contribution": self.contribution,
            "sentence": self.sentence,
        }


def _n(value) -> int:
    return 0 if _missing(value) else round(float(value))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _paid_late(row: Row) -> str:
    return (
        f"paid {_n(row['hist_late_count'])} of {_n(row['hist_paid_count'])} earlier invoices late"
    )


def _late_ratio(days: int) -> Callable[[Row], str]:
    def sentence(row: Row) -> str:
        paid = _n(row.get(f"hist_paid_count_{days}d"))
        if paid == 0:
            return f"no invoice paid in the last {days} days"
        share = row[f"hist_late_ratio_{days}d"]
        return f"paid {share:.0%} of {paid} invoices late in the last {days} days"

    return sentence


SENTENCES: dict[str, Callable[[Row], str]] = {
    "hist_late_count": _paid_late,
    "hist_paid_count": lambda r: (
        "no earlier invoice paid yet" if _n(r["hist_paid_count"]) == 0 else _paid_late(r)
    ),
    "hist_late_ratio": _paid_late,
    "hist_late_amount": lambda r: f"{r['hist_late_amount']:,.2f} of earlier invoices paid late",
    "hist_late_amount_ratio": lambda r: (
        f"{r['hist_late_amount_ratio']:.0%} of the amount paid so far was paid late"
    ),
    "hist_late_ratio_90d": _late_ratio(90),
    "hist_late_ratio_365d": _late_ratio(365),
    "hist_paid_count_90d": _late_ratio(90),
    "hist_paid_count_365d": _late_ratio(365),
    "hist_avg_days_late": lambda r: f"paid {r['hist_avg_days_late']:.0f} days late on average",
    "hist_avg_days_late_when_late": lambda r: (
        f"late payments were {r['hist_avg_days_late_when_late']:.0f} days late on average"
    ),
    "hist_avg_days_to_pay": lambda r: (
        f"takes {r['hist_avg_days_to_pay']:.0f} days to pay on average"
    ),
    "hist_days_to_pay_trend": lambda r: (
        f"paying {abs(r['hist_days_to_pay_trend']):.0f} days "
        f"{'slower' if r['hist_days_to_pay_trend'] > 0 else 'faster'} lately than usual"
    ),
    "days_since_last_late_payment": lambda r: (
        f"last paid late {_n(r['days_since_last_late_payment'])} days ago"
    ),
    "days_since_last_payment": lambda r: (
        f"last payment {_n(r['days_since_last_payment'])} days ago"
    ),
    "customer_invoice_count": lambda r: f"{_n(r['customer_invoice_count'])} earlier invoices",
    "open_count": lambda r: f"{_n(r['open_count'])} other invoices still open",
    "open_amount": lambda r: f"{r['open_amount']:,.2f} already open",
    "open_past_due_count": lambda r: f"{_n(r['open_past_due_count'])} invoices already past due",
    "open_past_due_amount": lambda r: f"{r['open_past_due_amount']:,.2f} already past due",
    "open_past_due_ratio": lambda r: f"{r['open_past_due_ratio']:.0%} of open invoices past due",
    "open_avg_days_past_due": lambda r: (
        f"open invoices {r['open_avg_days_past_due']:.0f} days past due on average"
    ),
    "amount_vs_typical": lambda r: f"{r['amount_vs_typical']:.1f}x the customer's usual amount",
    "amount_log": lambda r: "the invoice amount",
    "terms_days": lambda r: f"{_n(r['terms_days'])}-day payment terms",
    "credit_utilisation": lambda r: (
        f"open balance at {r['credit_utilisation']:.0%} of the credit limit"
    ),
    "customer_tenure_days": lambda r: f"customer for {_n(r['customer_tenure_days'])} days",
    "disputes_count": lambda r: f"{_n(r['disputes_count'])} disputes before",
    "disputes_open": lambda r: f"{_n(r['disputes_open'])} disputes still open",
    "disputes_per_invoice": lambda r: f"disputes on {r['disputes_per_invoice']:.0%} of invoices",
    "disputes_90d": lambda r: f"{_n(r['disputes_90d'])} disputes in the last 90 days",
    "contacts_30d": lambda r: f"{_n(r['contacts_30d'])} service contacts in the last 30 days",
    "contacts_90d": lambda r: f"{_n(r['contacts_90d'])} service contacts in the last 90 days",
    "complaints_30d": lambda r: f"{_n(r['complaints_30d'])} complaints in the last 30 days",
    "complaints_90d": lambda r: f"{_n(r['complaints_90d'])} complaints in the last 90 days",
    "billing_questions_30d": lambda r: (
        f"{_n(r['billing_questions_30d'])} billing questions in the last 30 days"
    ),
    "billing_questions_90d": lambda r: (
        f"{_n(r['billing_questions_90d'])} billing questions in the last 90 days"
    ),
    "promises_30d": lambda r: f"{_n(r['promises_30d'])} promises to pay in the last 30 days",
    "promises_90d": lambda r: f"{_n(r['promises_90d'])} promises to pay in the last 90 days",
    "payment_method_changes": lambda r: (
        f"changed payment method {_n(r['payment_method_changes'])} times"
    ),
    "payment_method_differs_from_last": lambda r: "pays this invoice by a different method",
    "payment_method": lambda r: f"paid by {r['payment_method']}",
    "channel": lambda r: f"{r['channel']} invoice",
    "is_month_end": lambda r: "issued at month end",
    "is_quarter_end": lambda r: "issued at quarter end",
}


def _family_sentence(feature: str, row: Row) -> str | None:
    """Sentences for feature families named by a pattern (last-k payments, same-kind history,
    changes of economic indicators)."""
    value = row[feature]
    last = re.fullmatch(r"hist_(days_late|days_to_pay|late_ratio)_last(\d+)", feature)
    if last:
        what, count = last.groups()
        payments = "the last payment" if count == "1" else f"the last {count} payments"
        if what == "late_ratio":
            return f"{value:.0%} of {payments} were late"
        verb = "days late" if what == "days_late" else "days to pay"
        return f"{value:.0f} {verb} on {payments}" + (" on average" if count != "1" else "")
    same = re.fullmatch(
        r"hist_same_(channel|payment_method)_(paid_count|late_ratio|avg_days_to_pay)", feature
    )
    if same:
        column, what = same.groups()
        kind = (
            f"{row.get(column)} invoices"
            if column == "channel"
            else f"invoices paid by {row.get(column)}"
        )
        if what == "late_ratio":
            return f"paid {value:.0%} of earlier {kind} late"
        if what == "avg_days_to_pay":
            return f"takes {value:.0f} days to pay {kind}"
        return f"{_n(value)} earlier {kind} paid"
    economy = re.fullmatch(r"econ_(.+)_(chg|vs)(\d+)m", feature)
    if economy:
        name, how, periods = economy.groups()
        if how == "chg":
            direction = "up" if value > 0 else "down" if value < 0 else "unchanged"
            amount = f" {abs(value):.2f}" if value else ""
            return f"{_label(name)} {direction}{amount} over {periods} months"
        side = "above" if value >= 0 else "below"
        return f"{_label(name)} {abs(value):.2f} {side} its {periods}-month average"
    return None


def sentence_for(feature: str, row: Row) -> str:
    """The sentence for ``feature`` in ``row``, or a plain ``name: value`` where none is known."""
    value = row.get(feature)
    if feature in SENTENCES and not _missing(value):
        return SENTENCES[feature](row)
    if not _missing(value) and (family := _family_sentence(feature, row)):
        return family
    if _missing(value):
        return f"{_label(feature)}: unknown"
    if feature.startswith("econ_"):
        return f"{_label(feature.removeprefix('econ_'))} at {float(value):.2f}"
    if isinstance(value, float):
        return f"{_label(feature)}: {value:g}"
    return f"{_label(feature)}: {value}"


def top_reasons(
    features: pd.DataFrame, contributions: pd.DataFrame, *, top: int = 3
) -> list[list[Reason]]:
    """The ``top`` features pushing each invoice towards lateness, strongest first.

    Only positive contributions are reasons: a low-risk invoice may have none.
    ``contributions`` has a row per row of ``features``, with the same index.
    """
    if not contributions.index.equals(features.index):
        contributions = contributions.loc[features.index]
    pushes = contributions.to_numpy(dtype=float)
    names = list(contributions.columns)
    count = min(top, len(names))
    # Strongest first; equal pushes in column order.
    strongest = np.argsort(-pushes, axis=1, kind="stable")[:, :count]
    strongest_pushes = np.take_along_axis(pushes, strongest, axis=1)
    columns = _Columns(features)
    reasons = []
    for position in range(len(features)):
        row = _RowView(columns, position)
        found = []
        for rank in range(count):
            push = strongest_pushes[position, rank]
            if not push > 0:
                break
            name = names[strongest[position, rank]]
            found.append(
                Reason(
                    feature=name,
                    value=_plain(row.get(name)),
                    contribution=round(float(push), 4),
                    sentence=sentence_for(name, row),
                )
            )
        reasons.append(found)
    return reasons


class _Columns(Mapping[str, np.ndarray]):
    """A frame's columns as arrays, each taken out of the frame when first read: the reasons
    of a few invoices read a few of many columns."""

    __slots__ = ("_arrays", "_frame")

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self._arrays: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None:
            if name not in self._frame.columns:
                raise KeyError(name)
            array = self._arrays[name] = self._frame[name].to_numpy()
        return array

    def __iter__(self) -> Iterator[str]:
        return iter(self._frame.columns)

    def __len__(self) -> int:
        return len(self._frame.columns)


class _RowView(Mapping[str, Any]):
    """Row ``position`` of a frame's columns, read on demand (cheaper than a Series per row).

    Values come back as Python scalars, as in a row of ``DataFrame.iterrows``.
    """

    __slots__ = ("_columns", "_position")

    def __init__(self, columns: _Columns, position: int) -> None:
        self._columns = columns
        self._position = position

    def __getitem__(self, name: str) -> Any:
        value = self._columns[name][self._position]
        return value.item() if isinstance(value, np.generic) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def _plain(value):
    if _missing(value):
        return None
    if isinstance(value, int | float):
        return float(value)
    return str(value)


def _label(name: str) -> str:
    return name.replace("_", " ")
