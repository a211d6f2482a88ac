"""Customer segment history: which segment and strategy a customer was in, and since when.

After each scoring run (``latepay score --open``, and the segments job of ``latepay serve``)
:func:`record_segment_changes` recomputes every customer's segment as the worklist does: the
open invoices of the day with their latest scores, through
:func:`latepay.actions.segments.customer_segments` (one definition of a segment). For each
customer whose segment or strategy differs from its latest row it appends a row to
``customer_segment_history``, with the inputs that decided it (mean P(late), history late
share, open balance, ...). The table holds changes, not snapshots: a customer's segment on a
day is its latest row of that day or before, and a run in which nothing changed writes nothing.

A customer with no segment (nothing open, or nothing scored and no payment record) gets no row:
its history ends with the last segment it had while it owed something.

Reading the latest rows and appending the changes is not atomic by itself: two runs at once
could both append one change. Callers hold :data:`SEGMENTS_LOCK` (see
:func:`latepay.learning.retrain.exclusive_lock`) around it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from latepay.actions.worklist import build_worklist, default_as_of
from latepay.config import Settings
from latepay.db.tables import CustomerSegmentChange, in_chunks

#: Name of the lock that serialises recording segment changes.
SEGMENTS_LOCK = "segment-history"


@dataclass(frozen=True)
class SegmentRun:
    """What one :func:`record_segment_changes` run saw and wrote."""

    as_of: dt.date
    customers: int  # customers with a segment on ``as_of``
    changed: int  # of those, rows appended because the segment or strategy changed


def record_segment_changes(
    engine: Engine, settings: Settings, *, as_of: dt.date | None = None
) -> SegmentRun:
    """Recompute every customer's segment and append a row where it changed.

    Parameters
    ----------
    engine : Engine
        A migrated latepay database with scored invoices.
    settings : Settings
        Segment cut-offs, grace days and the reminder policy (as for the worklist).
    as_of : date, optional
        The day of the segments; by default the day of the newest scoring run.

    Returns
    -------
    SegmentRun
    """
    as_of = as_of or default_as_of(engine)
    segments = build_worklist(engine, as_of=as_of, settings=settings).segments
    segments = segments[segments["segment"].notna()]
    with engine.begin() as connection:
        latest = _latest(connection, segments["customer_id"].tolist())
        rows = [
            _row(record, as_of)
            for record in segments.to_dict("records")
            if latest.get(record["customer_id"]) != (record["segment"], record["strategy"])
        ]
        if rows:
            connection.execute(sa.insert(CustomerSegmentChange), rows)
    return SegmentRun(as_of=as_of, customers=len(segments), changed=len(rows))


def segment_history(connection: Connection, customer_id: str) -> list[dict[str, Any]]:
    """Every recorded segment change of ``customer_id``, oldest first."""
    rows = connection.execute(
        sa.select(CustomerSegmentChange)
        .where(CustomerSegmentChange.customer_id == customer_id)
        .order_by(CustomerSegmentChange.id)
    ).mappings()
    return [dict(row) for row in rows]


def _latest(connection: Connection, customer_ids: list[str]) -> dict[str, tuple[str, str]]:
    """(segment, strategy) of each customer's newest row."""
    latest = {}
    for chunk in in_chunks(customer_ids):
        newest = (
            sa.select(sa.func.max(CustomerSegmentChange.id))
            .where(CustomerSegmentChange.customer_id.in_(chunk))
            .group_by(CustomerSegmentChange.customer_id)
        )
        rows = connection.execute(
            sa.select(
                CustomerSegmentChange.customer_id,
                CustomerSegmentChange.segment,
                CustomerSegmentChange.strategy,
            ).where(CustomerSegmentChange.id.in_(newest))
        )
        latest.update({row.customer_id: (row.segment, row.strategy) for row in rows})
    return latest


def _row(record: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    return {
        "customer_id": record["customer_id"],
        "segment": record["segment"],
        "strategy": record["strategy"],
        "as_of": as_of,
        "risk_score": float(record["risk_score"]),
        "mean_p_late": _optional(record["mean_p_late"]),
        "late_share": _optional(record["late_share"]),
        "settled": int(record["settled"]),
        "open_invoices": int(record["open_invoices"]),
        "open_balance": float(record["open_balance"]),
        "high_value": bool(record["high_value"]),
    }


def _optional(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)
