"""Idempotent writes: compare each incoming row's fingerprint with the stored one.

A row whose key is new is inserted; a row whose ``row_hash`` differs is updated; a row whose
``row_hash`` matches is left alone, so importing the same file twice writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from latepay.db.tables import Customer
from latepay.ingest.bulk import RowsWritten, fetch_frame, insert_frame, update_frame
from latepay.ingest.canonical import EntitySpec
from latepay.ingest.fingerprint import FIELD_SEPARATOR, canonical_text, fingerprints
from latepay.ingest.lookup import positions
from latepay.ingest.validation import ValidatedRows


@dataclass(frozen=True)
class UpsertPlan:
    """Which incoming rows are new, which changed, and how many are already stored as they are.

    Attributes
    ----------
    inserts
        The new rows (canonical values).
    updates
        The changed rows (canonical values), with the stored values of the ``previous``
        columns of :func:`plan_upsert`, as text, prefixed ``previous_``.
    unchanged
        How many rows are stored exactly as in the file.
    """

    inserts: pd.DataFrame
    updates: pd.DataFrame
    unchanged: int

    @property
    def writes(self) -> int:
        """Rows :func:`apply_upsert` will write."""
        return len(self.inserts) + len(self.updates)


def plan_upsert(
    connection: Connection,
    spec: EntitySpec,
    rows: pd.DataFrame,
    *,
    previous: Sequence[str] = (),
) -> UpsertPlan:
    """Compare incoming rows with the stored ones by key and fingerprint; write nothing.

    Parameters
    ----------
    connection
        An open connection inside the file's transaction.
    spec
        The entity being imported.
    rows
        Canonical rows with ``row_hash`` (:attr:`ValidatedRows.rows`).
    previous
        Stored columns to report for changed rows as they are before the update (e.g. a
        payment's former invoice, whose settlement must then be recomputed).
    """
    key = list(spec.key)
    where_in = (key[0], rows[key[0]]) if len(key) == 1 else None
    stored = fetch_frame(connection, spec.table, [*key, "row_hash", *previous], where_in=where_in)
    found = positions(_key_text(rows, key), _key_text(stored, key))
    new = found < 0
    stored_hash = stored["row_hash"].to_numpy()[np.maximum(found, 0)] if len(stored) else None
    changed = ~new & (stored_hash != rows["row_hash"].to_numpy())
    updates = rows[changed]
    before = stored.iloc[found[changed]]
    return UpsertPlan(
        inserts=rows[new],
        updates=updates.assign(
            **{f"previous_{name}": before[name].to_numpy() for name in previous}
        ),
        unchanged=int((~new & ~changed).sum()),
    )


def apply_upsert(
    connection: Connection,
    spec: EntitySpec,
    plan: UpsertPlan,
    validated: ValidatedRows,
    *,
    now: dt.datetime,
    on_rows: RowsWritten | None = None,
) -> None:
    """Write a plan: insert the new rows, update the changed ones, touch nothing else.

    Parameters
    ----------
    connection
        The connection :func:`plan_upsert` used, in the same transaction.
    spec
        The entity being imported.
    plan
        What to write.
    validated
        The file's validation, which says which columns to write.
    now
        The ``updated_at`` of every row written.
    on_rows
        Called with the number of rows written after each chunk.
    """
    if len(plan.inserts):
        insert_frame(
            connection,
            spec.table,
            plan.inserts,
            validated.insert_columns,
            now=now,
            on_rows=on_rows,
        )
    if len(plan.updates):
        update_frame(
            connection,
            spec.table,
            plan.updates,
            list(spec.key),
            validated.update_columns,
            now=now,
            on_rows=on_rows,
        )


def insert_missing_customers(
    connection: Connection, customer_ids: pd.Series, *, now: dt.datetime
) -> list[str]:
    """Create the customers that ``customer_ids`` name but the database lacks.

    They get ``auto_created=True`` and a fingerprint no customer file can produce, so a later
    customer file that lists them updates them (and clears ``auto_created``).

    Parameters
    ----------
    connection
        An open connection inside the file's transaction.
    customer_ids
        The customers a file refers to (repeats and missing values allowed).
    now
        The ``updated_at`` of the customers created.

    Returns
    -------
    list of str
        The ids created, sorted.
    """
    wanted = pd.Series(customer_ids.dropna().unique(), dtype="str")
    known = fetch_frame(
        connection, Customer.__table__, ["customer_id"], where_in=("customer_id", wanted)
    )
    missing = sorted(set(wanted) - set(known["customer_id"]))
    if missing:
        created = pd.DataFrame(
            {"customer_id": pd.Series(missing, dtype="str"), "auto_created": True}
        )
        created["excluded_from_outreach"] = False
        created["row_hash"] = fingerprints(created, ["customer_id", "auto_created"])
        insert_frame(
            connection,
            Customer.__table__,
            created,
            ["customer_id", "auto_created", "excluded_from_outreach", "row_hash"],
            now=now,
        )
    return missing


def _key_text(frame: pd.DataFrame, key: list[str]) -> pd.Series:
    """One text label per row for its (possibly composite) key, as the database writes it."""
    text = canonical_text(frame[key[0]])
    for name in key[1:]:
        text = text + FIELD_SEPARATOR + canonical_text(frame[name])
    return text
