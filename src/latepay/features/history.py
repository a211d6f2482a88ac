"""Customer payment history as of a moment: what was paid, how late, and what is still open.

The family of features of Zeng et al. (KDD 2008) and of Business Central's late-payment
predictor: paid and late counts and amounts with their ratios and average days late, outstanding
and past-due counts and amounts, plus recency windows, the trend of days-to-pay, days since the
last late payment, and this invoice's amount against the customer's typical amount.

Only invoices *settled* strictly before the moment count as paid; an invoice is outstanding at
the moment when it was issued before it and not settled before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from latepay.features.events import (
    MONEY_UNITS_PER_AMOUNT,
    EventStream,
    GroupCodes,
    day_numbers,
    money_units,
)

RECENT_WINDOWS_DAYS = (90, 365)
# The most recent payments say most about the next one.
LAST_PAYMENTS = (1, 3)


class PaymentHistory:
    """The customers' payment-history and outstanding-balance features, ready to be asked.

    Parameters
    ----------
    invoices : DataFrame
        The ledger's invoices (credit notes are ignored: they are not paid late or on time).
    codes : GroupCodes
        Customer codes covering the ledger.
    grace_days : int
        Days after the due date that still count as on time.
    """

    def __init__(self, invoices: pd.DataFrame, codes: GroupCodes, *, grace_days: int) -> None:
        ledger = invoices[~invoices["is_credit_note"]]
        groups = codes.encode(ledger["customer_id"])
        issue = day_numbers(ledger["issue_date"])
        due = day_numbers(ledger["due_date"])
        settled = day_numbers(ledger["settled_date"])
        is_settled = ledger["settled_date"].notna().to_numpy()
        amount = money_units(ledger["amount"])

        days_late = np.where(is_settled, np.maximum(settled - due, 0), 0)
        late = (is_settled & (settled - due > grace_days)).astype(np.int64)
        days_to_pay = np.where(is_settled, settled - issue, 0)

        self._paid = EventStream(
            groups,
            settled,
            {
                "amount": amount,
                "late": late,
                "late_amount": late * amount,
                "days_late": days_late,
                "days_to_pay": days_to_pay,
            },
        )
        self._late_payments = EventStream(groups[late == 1], settled[late == 1])
        self._issued = EventStream(groups, issue, {"amount": amount})
        self._fell_due = EventStream(groups, due, {"amount": amount, "due_day": due})
        # An invoice stops being past due at the later of its due and settlement days.
        self._closed_after_due = EventStream(
            groups, np.maximum(due, settled), {"amount": amount, "due_day": due}
        )

    def features(
        self, query_groups: np.ndarray, query_days: np.ndarray, query_amounts: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Feature columns for the queries: each one's customer code (-1 for none), moment
        (from :func:`day_numbers`) and invoice amount."""
        paid, q, t = self._paid, query_groups, query_days
        out: dict[str, np.ndarray] = {}

        paid_count = paid.total_before("count", q, t)
        paid_amount = paid.total_before("amount", q, t) / MONEY_UNITS_PER_AMOUNT
        late_count = paid.total_before("late", q, t)
        out["hist_paid_count"] = paid_count
        out["hist_paid_amount"] = paid_amount
        out["hist_late_count"] = late_count
        out["hist_late_amount"] = paid.total_before("late_amount", q, t) / MONEY_UNITS_PER_AMOUNT
        out["hist_late_ratio"] = _ratio(late_count, paid_count)
        out["hist_late_amount_ratio"] = _ratio(out["hist_late_amount"], paid_amount)
        days_late = paid.total_before("days_late", q, t)
        out["hist_avg_days_late"] = _ratio(days_late, paid_count)
        out["hist_avg_days_late_when_late"] = _ratio(days_late, late_count)
        avg_days_to_pay = _ratio(paid.total_before("days_to_pay", q, t), paid_count)
        out["hist_avg_days_to_pay"] = avg_days_to_pay

        for window in RECENT_WINDOWS_DAYS:
            count = paid.total_between("count", q, t, window)
            out[f"hist_paid_count_{window}d"] = count
            out[f"hist_late_ratio_{window}d"] = _ratio(
                paid.total_between("late", q, t, window), count
            )
        recent_count = out["hist_paid_count_90d"]
        recent_days_to_pay = _ratio(paid.total_between("days_to_pay", q, t, 90), recent_count)
        out["hist_days_to_pay_trend"] = recent_days_to_pay - avg_days_to_pay

        for events in LAST_PAYMENTS:
            days_late_total, seen = paid.total_of_last("days_late", q, t, events)
            days_to_pay_total, _ = paid.total_of_last("days_to_pay", q, t, events)
            late_total, _ = paid.total_of_last("late", q, t, events)
            out[f"hist_days_late_last{events}"] = _ratio(days_late_total, seen)
            out[f"hist_days_to_pay_last{events}"] = _ratio(days_to_pay_total, seen)
            if events > 1:
                out[f"hist_late_ratio_last{events}"] = _ratio(late_total, seen)

        out["days_since_last_late_payment"] = _days_since(
            self._late_payments.last_day_before(q, t), t
        )
        out["days_since_last_payment"] = _days_since(paid.last_day_before(q, t), t)

        fell_due, closed = self._fell_due, self._closed_after_due
        issued_count = self._issued.total_before("count", q, t)
        issued_amount = self._issued.total_before("amount", q, t) / MONEY_UNITS_PER_AMOUNT
        open_count = issued_count - paid_count
        open_amount = issued_amount - paid_amount
        past_due_count = fell_due.total_before("count", q, t) - closed.total_before("count", q, t)
        past_due_amount = (
            fell_due.total_before("amount", q, t) - closed.total_before("amount", q, t)
        ) / MONEY_UNITS_PER_AMOUNT
        past_due_due_days = fell_due.total_before("due_day", q, t) - closed.total_before(
            "due_day", q, t
        )
        out["customer_invoice_count"] = issued_count
        out["open_count"] = open_count
        out["open_amount"] = open_amount
        out["open_past_due_count"] = past_due_count
        out["open_past_due_amount"] = past_due_amount
        out["open_past_due_ratio"] = _ratio(past_due_count, open_count)
        # Sum over past-due invoices of (t - due) = n * t - sum(due).
        out["open_avg_days_past_due"] = _ratio(
            past_due_count * t - past_due_due_days, past_due_count
        )
        out["amount_vs_typical"] = _ratio(query_amounts, _ratio(issued_amount, issued_count))
        return out


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is zero (no history is not zero)."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    result = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=result, where=denominator != 0)
    return result


def _days_since(last_day: np.ndarray, moments: np.ndarray) -> np.ndarray:
    return np.where(last_day >= 0, moments - last_day, np.nan).astype(float)


class SameKindHistory:
    """The customer's record on earlier invoices with the same ``column`` value as this one.

    A customer that moved to electronic invoicing, or pays some invoices by direct debit and
    others by cheque, behaves differently on each; its record on invoices *like this one* is
    sharper than its overall record. Each (customer, value) pair is one group of events.
    """

    def __init__(self, invoices: pd.DataFrame, codes: GroupCodes, *, column: str) -> None:
        ledger = invoices[~invoices["is_credit_note"] & invoices[column].notna()]
        settled = day_numbers(ledger["settled_date"])
        is_settled = ledger["settled_date"].notna().to_numpy()
        due = day_numbers(ledger["due_date"])
        issue = day_numbers(ledger["issue_date"])
        self.column = column
        self._values = GroupCodes(ledger[column].astype(str))
        self._paid = EventStream(
            self._pairs(
                codes.encode(ledger["customer_id"]), self._values.encode(ledger[column].astype(str))
            ),
            settled,
            {
                "late": (is_settled & (settled > due)).astype(np.int64),
                "days_to_pay": np.where(is_settled, settled - issue, 0),
            },
        )

    def _pairs(self, customers: np.ndarray, values: np.ndarray) -> np.ndarray:
        """One group code per (customer, value); -1 when either is unknown."""
        pairs = customers * self._values.size + values
        return np.where((customers >= 0) & (values >= 0), pairs, -1)

    def features(
        self, query_groups: np.ndarray, query_values: pd.Series, query_days: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Feature columns for the queries: customer codes, ``column`` values and moments."""
        has_value = query_values.notna().to_numpy()
        values = np.where(has_value, self._values.lookup(query_values.astype(str)), -1)
        groups = self._pairs(query_groups, values)
        paid = self._paid
        # Queries without a value have no "same kind": their features stay missing.
        count = np.where(has_value, paid.total_before("count", groups, query_days), 0)
        prefix = f"hist_same_{self.column}"
        return {
            f"{prefix}_paid_count": count,
            f"{prefix}_late_ratio": _ratio(paid.total_before("late", groups, query_days), count),
            f"{prefix}_avg_days_to_pay": _ratio(
                paid.total_before("days_to_pay", groups, query_days), count
            ),
        }
