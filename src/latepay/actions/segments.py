"""Customer risk segments and collection strategies (issue 5, item 1).

A customer with open invoices gets a **risk score**: the mean of

* the amount-weighted mean of its open invoices' latest P(late) (what the model expects now), and
* its history late share (settled invoices paid after due date + grace days, before ``as_of``),

or whichever of the two exists. ``Settings.segment_cutoffs`` (three increasing probabilities)
split the score into ``reliable`` / ``watch`` / ``at-risk`` / ``critical``; each cut-off starts
a segment. The history is blended in because P(late) of a single small invoice can be low for a
customer who has paid most invoices late; a customer must look good on both to be reliable.

**Value** is the open balance: ``high`` above the median open balance of the customers with an
open balance, ``low`` at or below it. Amounts are added across currencies as they are (the
ledger has no exchange rates yet).

Strategy, by segment and value:

============  ==========================  =======================
segment       high value                  low value
============  ==========================  =======================
reliable      protect the relationship    automate
watch         low-hanging fruit           automate
at-risk       low-hanging fruit           automate
critical      escalate                    escalate
============  ==========================  =======================

An at-risk customer with a low balance is left to the automated (firm) reminder schedule
rather than escalated: a collector's call costs the same whatever the amount, so calls go to
the balances that repay them; only ``critical`` customers are escalated whatever their value.

Segments are computed on demand from the latest scores; :mod:`latepay.actions.segment_history`
keeps their changes after each scoring run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEGMENTS = ("reliable", "watch", "at-risk", "critical")
PROTECT = "protect the relationship"
LOW_HANGING_FRUIT = "low-hanging fruit"
ESCALATE = "escalate"
AUTOMATE = "automate"

SEGMENT_COLUMNS = [
    "customer_id",
    "open_invoices",
    "open_balance",
    "mean_p_late",
    "settled",
    "late_share",
    "risk_score",
    "segment",
    "high_value",
    "strategy",
]


def strategy_of(segment: str | None, high_value: bool) -> str | None:
    """The collection strategy of a customer in ``segment`` (see the module's table)."""
    if segment is None:
        return None
    if segment == "critical":
        return ESCALATE
    if not high_value:
        return AUTOMATE
    return PROTECT if segment == "reliable" else LOW_HANGING_FRUIT


def customer_segments(
    open_invoices: pd.DataFrame,
    history: pd.DataFrame,
    *,
    cutoffs: tuple[float, float, float],
) -> pd.DataFrame:
    """Risk segment, value and strategy of every customer with open invoices.

    Parameters
    ----------
    open_invoices : DataFrame
        One row per open invoice: ``customer_id``, ``amount`` and ``p_late`` (its latest
        P(late); NaN when never scored).
    history : DataFrame
        One row per customer: ``customer_id``, ``settled`` (invoices settled before the day)
        and ``paid_late`` (of those, settled late). Customers missing have no history.
    cutoffs : tuple of three floats
        Risk scores from which a customer is watch, at-risk and critical
        (``Settings.segment_cutoffs``).

    Returns
    -------
    DataFrame
        The columns of :data:`SEGMENT_COLUMNS`, one row per customer, sorted by customer id.
        ``segment`` and ``strategy`` are None for a customer with neither a scored open
        invoice nor a settled invoice.
    """
    if open_invoices.empty:
        return pd.DataFrame(columns=SEGMENT_COLUMNS)
    frame = open_invoices[["customer_id", "amount", "p_late"]].copy()
    scored = frame["p_late"].notna() & (frame["amount"] > 0)
    frame["weight"] = frame["amount"].where(scored, 0.0)
    frame["weighted"] = (frame["p_late"] * frame["weight"]).where(scored, 0.0)
    grouped = frame.groupby("customer_id")
    customers = pd.DataFrame(
        {
            "open_invoices": grouped.size(),
            "open_balance": grouped["amount"].sum(),
            "weighted": grouped["weighted"].sum(),
            "weight": grouped["weight"].sum(),
        }
    )
    customers["mean_p_late"] = (customers["weighted"] / customers["weight"]).where(
        customers["weight"] > 0
    )
    # As numbers even when empty: an empty history frame has object columns.
    past = history.set_index("customer_id")[["settled", "paid_late"]].astype(float)
    customers = customers.join(past, how="left")
    customers["settled"] = customers["settled"].fillna(0).astype(int)
    customers["late_share"] = (customers["paid_late"] / customers["settled"]).where(
        customers["settled"] > 0
    )
    customers["risk_score"] = customers[["mean_p_late", "late_share"]].mean(axis=1, skipna=True)
    known = customers["risk_score"].notna()
    segment_index = np.searchsorted(cutoffs, customers["risk_score"].fillna(0), side="right")
    customers["segment"] = np.where(known, np.asarray(SEGMENTS, dtype=object)[segment_index], None)
    with_balance = customers["open_balance"] > 0
    median = customers.loc[with_balance, "open_balance"].median()
    customers["high_value"] = with_balance & (customers["open_balance"] > median)
    customers["strategy"] = [
        strategy_of(segment, high)
        for segment, high in zip(customers["segment"], customers["high_value"], strict=True)
    ]
    customers = customers.reset_index(names="customer_id").sort_values("customer_id")
    return customers[SEGMENT_COLUMNS].reset_index(drop=True)
