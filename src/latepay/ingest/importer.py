"""Importing the files of a mapping: one transaction per file, in dependency order.

Before anything is written, every file of the mapping is opened and its header checked, so a
missing file or column fails the whole import up front. Then each file is read, validated and,
only if none of its rows has a problem, written in one transaction. A file with problems is
not written at all; the files after it are skipped (they may depend on it).
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from latepay.db.tables import Invoice, Payment
from latepay.errors import InputError
from latepay.ingest.bulk import bulk_session, fetch_frame
from latepay.ingest.canonical import ENTITIES, PAYMENTS, EntitySpec
from latepay.ingest.lookup import is_in
from latepay.ingest.mapping import EntityMapping, load_mapping
from latepay.ingest.readers import SourceTable, read_header, read_table
from latepay.ingest.report import EntityCounts, ImportReport
from latepay.ingest.settlement import (
    payments_once_written,
    resettle_invoices,
    settlement_changes,
    write_settlements,
)
from latepay.ingest.upsert import (
    UpsertPlan,
    apply_upsert,
    insert_missing_customers,
    plan_upsert,
)
from latepay.ingest.validation import (
    ValidatedRows,
    check_payments_against_invoices,
    rejection,
    validate,
)

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
MAX_ERRORS_PER_FILE = 1000  # the rest are counted in ``rejected`` and a warning
MAX_VALUE_CHARS = 200


def import_mapping(
    engine: Engine,
    mapping_path: Path,
    *,
    data_dir: Path | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import every file a mapping describes.

    Parameters
    ----------
    engine
        A database migrated to the current schema (``latepay init``).
    mapping_path
        The mapping YAML (GUIDE §3).
    data_dir
        Folder the mapping's file paths are relative to; by default the mapping's folder.
    progress
        Called as ``progress(entity, rows_done, rows_total)`` while each file is imported.

    Returns
    -------
    ImportReport
        Counts per entity, warnings, and the rejected rows; ``ok`` is False when a file had
        problems (it was not written and the files after it were skipped).

    Raises
    ------
    InputError
        For problems with a whole file or the mapping: missing, empty, not UTF-8, a required
        column absent, dates whose day/month order is ambiguous.

    Examples
    --------
    >>> report = import_mapping(engine, Path("examples/ibm-ar/mapping.yaml"))  # doctest: +SKIP
    >>> report.entities["invoices"].inserted  # doctest: +SKIP
    2466
    """
    mapping = load_mapping(mapping_path, data_dir)
    _require_schema(engine)
    paths = {name: mapping.resolve(name) for name in mapping.entities}
    for name, entity in mapping.entities.items():
        _check_header(paths[name], ENTITIES[name], entity)

    report = ImportReport()
    names = list(mapping.entities)
    # While one file is written (the database works, this process mostly waits), the next
    # one is read and validated in a background thread. It is only used once the file
    # before it is committed, so the import behaves exactly as if done one file at a time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="latepay-import") as reader:
        upcoming = reader.submit(_prepare, names[0], mapping.entities[names[0]], paths[names[0]])
        for position, name in enumerate(names):
            if report.errors:
                report.entities[name] = EntityCounts(file=paths[name], skipped=True)
                continue
            prepared = upcoming.result()
            if position + 1 < len(names):
                following = names[position + 1]
                upcoming = reader.submit(
                    _prepare, following, mapping.entities[following], paths[following]
                )
            _import_file(engine, prepared, report, progress)
    return report


@dataclass(frozen=True)
class _PreparedFile:
    """A file read and validated, ready to be checked against the database and written."""

    spec: EntitySpec
    entity: EntityMapping
    source: SourceTable
    validated: ValidatedRows


def _prepare(name: str, entity: EntityMapping, path: Path) -> _PreparedFile:
    spec = ENTITIES[name]
    source = read_table(path, entity.source_columns())
    return _PreparedFile(spec, entity, source, validate(spec, entity, source))


def _require_schema(engine: Engine) -> None:
    if not sa.inspect(engine).has_table(Invoice.__tablename__):
        raise InputError(
            f"the database {engine.url.render_as_string(hide_password=True)} has no latepay "
            "tables; run `latepay init` first"
        )


def _check_header(path: Path, spec: EntitySpec, entity: EntityMapping) -> None:
    header = read_header(path)
    roles = {
        **dict.fromkeys(entity.where, f"in the where filter of {spec.name}"),
        **dict.fromkeys(entity.features, f"a feature of {spec.name}"),
        **{column: f"mapped to {spec.name}.{name}" for name, column in entity.columns.items()},
    }
    for column in entity.source_columns():
        if column not in header:
            close = difflib.get_close_matches(column, header, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"{path}: column {column!r} ({roles[column]}) is not in the file{hint}; "
                f"the file has the columns: {', '.join(header)}"
            )


def _import_file(
    engine: Engine, prepared: _PreparedFile, report: ImportReport, progress: Progress | None
) -> None:
    started = time.perf_counter()
    spec, source, validated = prepared.spec, prepared.source, prepared.validated
    counts = EntityCounts(file=source.path)
    report.entities[spec.name] = counts
    total = len(validated.rows)
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done = min(total, done + rows)
        if progress is not None:
            progress(spec.name, done, total)

    advance(0)
    now = dt.datetime.now(dt.UTC)
    with (
        engine.connect() as connection,
        bulk_session(connection),
        connection.begin() as transaction,
    ):
        if spec.name == "payments":
            invoices = _invoices_named(connection, validated.rows["invoice_id"])
            check_payments_against_invoices(validated, prepared.entity, invoices)
        if validated.problems or source.malformed_rows:
            transaction.rollback()
            _reject_file(source, validated, counts, report)
            return
        report.warnings.extend(validated.warnings)
        if total == 0:
            report.warnings.append(f"{source.name}: no {spec.name} rows to import")
        if spec.refers_to_customers:
            counts.customers_created = _create_missing_customers(
                connection, spec, validated, source.name, now, report
            )
        plan = plan_upsert(
            connection,
            spec,
            validated.rows,
            previous=("invoice_id",) if spec.name == "payments" else (),
        )
        counts.inserted, counts.updated = len(plan.inserts), len(plan.updates)
        counts.unchanged = plan.unchanged
        advance(plan.unchanged)
        if spec.name == "payments":
            counts.settlements_changed = _write_payments(
                connection, plan, validated, invoices, now=now, on_rows=advance
            )
        else:
            apply_upsert(connection, spec, plan, validated, now=now, on_rows=advance)
        if spec.name == "invoices" and len(plan.updates):
            # An updated invoice may have a new amount, and its file's settled date must not
            # replace the one its payments give it.
            counts.settlements_changed = resettle_invoices(
                connection, plan.updates["invoice_id"], now=now
            )
    logger.info(
        "%s: %s inserted, %s updated, %s unchanged; written in %.1f s",
        source.name,
        counts.inserted,
        counts.updated,
        counts.unchanged,
        time.perf_counter() - started,
    )


def _write_payments(
    connection: Connection,
    plan: UpsertPlan,
    validated: ValidatedRows,
    invoices: pd.DataFrame,
    *,
    now: dt.datetime,
    on_rows: Callable[[int], None],
) -> int:
    """Write the payments, then settle the invoices they touch; return how many changed.

    Everything the settlement needs is read before the write: the stored payments of the
    touched invoices (on a first import there are none) and the invoices themselves. So the
    settlement is computed in a second thread while the database inserts the payments.
    """
    if not plan.writes:
        return 0
    touched = pd.Series(
        pd.concat(
            [
                plan.inserts["invoice_id"],
                plan.updates["invoice_id"],
                plan.updates["previous_invoice_id"],
            ]
        ).unique(),
        dtype="str",
    )
    stored = fetch_frame(
        connection,
        Payment.__table__,
        ["payment_id", "invoice_id", "paid_date", "amount"],
        where_in=("invoice_id", touched),
    )
    payments = payments_once_written(stored, pd.concat([plan.inserts, plan.updates]))
    payments = payments[is_in(payments["invoice_id"], touched)]
    if is_in(touched, invoices["invoice_id"]).all():
        invoices = invoices[is_in(invoices["invoice_id"], touched)]
    else:  # a payment moved away from an invoice the file does not name: read that one too
        invoices = fetch_frame(
            connection,
            Invoice.__table__,
            ["invoice_id", "amount", "settled_date"],
            where_in=("invoice_id", touched),
        )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="latepay-settle") as worker:
        changes = worker.submit(settlement_changes, payments, invoices)
        apply_upsert(connection, PAYMENTS, plan, validated, now=now, on_rows=on_rows)
        return write_settlements(connection, changes.result(), now=now)


def _invoices_named(connection: Connection, invoice_ids: pd.Series) -> pd.DataFrame:
    """The stored invoices that payments name: to check the payments, then to settle them."""
    return fetch_frame(
        connection,
        Invoice.__table__,
        ["invoice_id", "issue_date", "amount", "settled_date"],
        where_in=("invoice_id", invoice_ids),
    )


def _create_missing_customers(
    connection: Connection,
    spec: EntitySpec,
    validated: ValidatedRows,
    file_name: str,
    now: dt.datetime,
    report: ImportReport,
) -> int:
    created = insert_missing_customers(connection, validated.rows["customer_id"], now=now)
    if created:
        examples = ", ".join(created[:3]) + (", ..." if len(created) > 3 else "")
        report.warnings.append(
            f"{file_name}: {len(created):,} customers named by {spec.name} were unknown "
            f"({examples}); created them with auto_created=True"
        )
    return len(created)


def _reject_file(
    source: SourceTable, validated: ValidatedRows, counts: EntityCounts, report: ImportReport
) -> None:
    rejected = rejection(source, validated, limit=MAX_ERRORS_PER_FILE, value_chars=MAX_VALUE_CHARS)
    counts.rejected = rejected.rows
    report.errors.extend(rejected.errors)
    if rejected.total > len(rejected.errors):
        report.warnings.append(
            f"{source.name}: {rejected.total - len(rejected.errors):,} more errors not listed "
            f"({counts.rejected:,} rows rejected in all)"
        )
    logger.info("%s: %s rows rejected; nothing written", source.name, counts.rejected)
