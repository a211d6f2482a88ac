"""The reserve to hold for late money: expected amounts more than 30 and 90 days late, by segment.

The forecast gives every open invoice its probability of being paid more than 30 and more
than 90 days after its due date (:mod:`latepay.planning.forecast`); the ledger's history says
how often money that late was never collected. :data:`RESERVE_METHOD` is the method in words,
for the dashboard and the API to show next to the figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from latepay.planning.delays import DelayHistory

# Money still unpaid this many days past due counts as never collected.
WRITE_OFF_DAYS = 365
LATE_THRESHOLDS = (30, 90)

RESERVE_METHOD = (
    "Suggested reserve = expected amount more than 90 days late x R90 + expected amount 31-90 "
    "days late x R30. Expected amounts are each open invoice's outstanding balance times its "
    "forecast probability of being paid that late (from its latest score; from its customer's "
    "history when never scored). R90 is the share of past invoices still unpaid 90 days past "
    f"due that were still unpaid {WRITE_OFF_DAYS} days past due; R30 the same share for "
    "invoices still unpaid 30 days past due (Kaplan-Meier over the ledger's history, open "
    "invoices counted as unpaid so far). R30 covers the risk that money expected 31-90 days "
    "late slips into the uncollectible tail. A rate is 0 when no past invoice stayed unpaid "
    "that long."
)


@dataclass(frozen=True)
class ReserveRow:
    """One segment's (or the total's) expected late amounts and suggested reserve."""

    segment: str
    open_invoices: int
    open_amount: float
    expected_over_30: float
    expected_over_90: float
    suggested_reserve: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Reserve:
    """The reserve by segment, its total, and the historical rates it used."""

    rows: list[ReserveRow]
    total: ReserveRow
    rate_over_30: float
    rate_over_90: float
    method: str = RESERVE_METHOD

    def to_dict(self) -> dict:
        return {
            "rows": [row.to_dict() for row in self.rows],
            "total": self.total.to_dict(),
            "rate_over_30": self.rate_over_30,
            "rate_over_90": self.rate_over_90,
            "method": self.method,
        }


def uncollectible_rates(history: DelayHistory) -> tuple[float, float]:
    """(R30, R90) of :data:`RESERVE_METHOD` from the ledger's history."""
    over_30, over_90 = (
        history.unpaid_share(threshold, WRITE_OFF_DAYS) for threshold in LATE_THRESHOLDS
    )
    return over_30 or 0.0, over_90 or 0.0


def suggest_reserve(
    items: pd.DataFrame, history: DelayHistory, *, segments: tuple[str, ...]
) -> Reserve:
    """Expected amounts more than 30 and 90 days late and the suggested reserve, by segment.

    Parameters
    ----------
    items : DataFrame
        One row per open invoice: ``segment``, ``balance``, ``p_over_30`` and ``p_over_90``
        (probabilities of being paid more than 30 / 90 days past due, or never).
    history : DelayHistory
        Gives the uncollectible rates R30 and R90.
    segments : tuple of str
        The segments to report, in order (segments without open invoices get zero rows).
    """
    rate_30, rate_90 = uncollectible_rates(history)

    def row(name: str, part: pd.DataFrame) -> ReserveRow:
        over_30 = float((part["balance"] * part["p_over_30"]).sum())
        over_90 = float((part["balance"] * part["p_over_90"]).sum())
        return ReserveRow(
            segment=name,
            open_invoices=len(part),
            open_amount=float(part["balance"].sum()),
            expected_over_30=over_30,
            expected_over_90=over_90,
            suggested_reserve=over_90 * rate_90 + (over_30 - over_90) * rate_30,
        )

    rows = [row(name, items[items["segment"] == name]) for name in segments]
    return Reserve(rows=rows, total=row("total", items), rate_over_30=rate_30, rate_over_90=rate_90)
