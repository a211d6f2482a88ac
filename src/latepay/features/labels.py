"""Labels: was an invoice paid late, how late, and in which bucket — as known at a cutoff.

An invoice is late when settled more than ``grace_days`` after its due date. At a cutoff an
invoice's label is known when it was settled before the cutoff, or when it is still unpaid and
already past its due date plus grace: it *will* be late, whatever happens next. Leaving the
second kind out would teach a model that the worst invoices do not exist (they are exactly the
ones still open), so they are kept; their days late are only a lower bound, so they count for the
lateness bucket only when that bound already decides it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LabelSpec:
    """How lateness is measured.

    Parameters
    ----------
    grace_days : int
        Days after the due date that still count as on time.
    bucket_edges : tuple of int
        Upper edges of the late buckets, in days late; ``(30,)`` gives ``on_time``,
        ``late_1_30`` and ``late_31_plus``.
    """

    grace_days: int = 0
    bucket_edges: tuple[int, ...] = (30,)

    @property
    def bucket_names(self) -> list[str]:
        names, lower = ["on_time"], 1
        for edge in self.bucket_edges:
            names.append(f"late_{lower}_{edge}")
            lower = edge + 1
        return [*names, f"late_{lower}_plus"]

    def to_dict(self) -> dict:
        return {
            "grace_days": self.grace_days,
            "bucket_edges": list(self.bucket_edges),
            "buckets": self.bucket_names,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabelSpec:
        return cls(grace_days=data["grace_days"], bucket_edges=tuple(data["bucket_edges"]))

    def late_bucket(self, days_late: np.ndarray) -> np.ndarray:
        """Index into :attr:`bucket_names` of the late bucket (>= 1) for days late >= 1."""
        return 1 + np.searchsorted(np.asarray(self.bucket_edges), days_late, side="left")


DEFAULT_SPEC = LabelSpec()


def labels_known_at(
    invoices: pd.DataFrame, cutoff: pd.Timestamp | None, spec: LabelSpec = DEFAULT_SPEC
) -> pd.DataFrame:
    """Labels of the invoices whose outcome was known strictly before ``cutoff``.

    Parameters
    ----------
    invoices : DataFrame
        Ledger invoices (invoice_id, due_date, settled_date, is_credit_note).
    cutoff : Timestamp or None
        Only what was known before this day counts; ``None`` means everything recorded.
    spec : LabelSpec

    Returns
    -------
    DataFrame
        Indexed like ``invoices`` (only rows with a known label; credit notes never have one):
        ``is_late`` (0/1), ``days_late`` (float, NaN when only a lower bound is known),
        ``bucket`` (int index into ``spec.bucket_names``, -1 when not yet decided).
    """
    candidates = invoices[~invoices["is_credit_note"].astype(bool)]
    due = pd.to_datetime(candidates["due_date"])
    settled = pd.to_datetime(candidates["settled_date"])
    if cutoff is not None:
        cutoff = pd.Timestamp(cutoff).normalize()
        settled = settled.where(settled < cutoff)
    is_settled = settled.notna()
    days_late = (settled - due).dt.days
    late_if_settled = days_late > spec.grace_days
    if cutoff is None:
        unpaid_and_late = pd.Series(False, index=candidates.index)
        overdue_days = pd.Series(np.nan, index=candidates.index)
    else:
        # Unpaid before the cutoff: settled on the cutoff day at the earliest.
        overdue_days = (cutoff - due).dt.days
        unpaid_and_late = ~is_settled & (overdue_days > spec.grace_days)
    known = is_settled | unpaid_and_late
    is_late = (is_settled & late_if_settled) | unpaid_and_late

    bucket = np.full(len(candidates), -1)
    settled_late_days = np.maximum(days_late.fillna(0).to_numpy(), 1)
    bucket = np.where(is_settled & late_if_settled, spec.late_bucket(settled_late_days), bucket)
    bucket = np.where(is_settled & ~late_if_settled, 0, bucket)
    # An unpaid invoice's bucket is decided once its lower bound passes the last edge.
    last_edge = spec.bucket_edges[-1]
    decided = unpaid_and_late & (overdue_days > last_edge)
    bucket = np.where(decided, len(spec.bucket_names) - 1, bucket)

    labels = pd.DataFrame(
        {
            "is_late": is_late.astype(int),
            "days_late": np.where(is_settled, np.maximum(days_late, 0), np.nan),
            "bucket": bucket.astype(int),
        },
        index=candidates.index,
    )
    return labels[known.to_numpy()]
