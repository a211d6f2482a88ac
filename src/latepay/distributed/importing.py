"""``latepay import MAPPING --dask ... --data PATH``: the mapping's files as a Parquet dataset.

The files are read and checked by the importer's own readers and validation, so a value means
exactly what it means in a database import, and a file with any bad row is refused with file,
line, column and reason; then nothing is written. Payments settle their invoices by the same
rule (:func:`latepay.ingest.settlement.settlement_dates`) and customers named only by other
files are created, as in the database. The result replaces the dataset as a whole: the files
are the ledger, so the dataset is a snapshot of them rather than an upsert target.

Validation needs a whole file at once (duplicate keys, conflicting repeats), so it runs in
this process; everything after the import runs on the cluster.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from latepay.distributed.dataset import LedgerDataset, write_ledger_dataset
from latepay.errors import InputError
from latepay.features import Ledger
from latepay.features.ledger import (
    CUSTOMER_COLUMNS,
    CUSTOMER_EXTRA_PREFIX,
    INVOICE_COLUMNS,
    INVOICE_EXTRA_PREFIX,
    _expand_extra,
)
from latepay.ingest import EntityCounts, ImportReport, load_mapping
from latepay.ingest.canonical import ENTITIES
from latepay.ingest.importer import MAX_ERRORS_PER_FILE, MAX_VALUE_CHARS
from latepay.ingest.readers import SourceTable, read_header, read_table
from latepay.ingest.settlement import settlement_dates
from latepay.ingest.validation import (
    ValidatedRows,
    check_payments_against_invoices,
    rejection,
    validate,
)

# The ledger columns each entity keeps (plus ``extra`` where the mapping declares features).
_LEDGER_COLUMNS = {
    "invoices": INVOICE_COLUMNS,
    "customers": CUSTOMER_COLUMNS,
    "disputes": ["customer_id", "invoice_id", "opened_date", "resolved_date"],
    "interactions": ["customer_id", "date", "topic"],
    "economic_indicators": ["name", "key", "period", "value"],
}


@dataclass(frozen=True)
class DatasetImport:
    """What an import into a dataset did: the report, and the dataset when it was written."""

    report: ImportReport
    dataset: LedgerDataset | None


def import_to_dataset(
    mapping_path: Path,
    path: Path,
    *,
    data_dir: Path | None = None,
    buckets: int | None = None,
) -> DatasetImport:
    """Read and check the files of a mapping and write them as the dataset in ``path``.

    Parameters
    ----------
    mapping_path : Path
        The mapping YAML (GUIDE §3).
    path : Path
        The dataset folder; replaced only when every file was accepted.
    data_dir : Path, optional
        Folder the mapping's paths are relative to; the mapping's own by default.
    buckets : int, optional
        Customer buckets (see :func:`~latepay.distributed.dataset.write_ledger_dataset`).

    Returns
    -------
    DatasetImport
        ``report.ok`` False (and no dataset) when a file had bad rows.
    """
    mapping = load_mapping(mapping_path, data_dir)
    if "invoices" not in mapping.entities:
        raise InputError(f"{mapping_path}: a dataset needs an invoices section")
    paths = {name: mapping.resolve(name) for name in mapping.entities}
    for name, entity in mapping.entities.items():
        _check_header(paths[name], name, entity.source_columns())
    report = ImportReport()
    frames: dict[str, pd.DataFrame] = {}
    for name, entity in mapping.entities.items():
        if report.errors:
            report.entities[name] = EntityCounts(file=paths[name], skipped=True)
            continue
        source = read_table(paths[name], entity.source_columns())
        validated = validate(ENTITIES[name], entity, source)
        if name == "payments":
            check_payments_against_invoices(validated, entity, _issue_dates(frames["invoices"]))
        counts = EntityCounts(file=paths[name])
        report.entities[name] = counts
        if validated.problems or source.malformed_rows:
            counts.rejected = _reject(source, validated, report)
            continue
        report.warnings.extend(validated.warnings)
        rows = validated.rows
        counts.inserted = len(rows)
        if name == "payments":
            frames["invoices"], counts.settlements_changed = _settled(frames["invoices"], rows)
        else:
            keep = [c for c in [*_LEDGER_COLUMNS[name], "extra"] if c in rows]
            frames[name] = rows[keep].reset_index(drop=True)
    if not report.ok:
        return DatasetImport(report, None)
    ledger = _ledger(frames, report)
    return DatasetImport(report, write_ledger_dataset(ledger, path, buckets=buckets))


def _check_header(path: Path, entity: str, columns: list[str]) -> None:
    header = read_header(path)
    for column in columns:
        if column not in header:
            close = difflib.get_close_matches(column, header, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"{path}: column {column!r} of the {entity} mapping is not in the file{hint}; "
                f"the file has the columns: {', '.join(header)}"
            )


def _issue_dates(invoices: pd.DataFrame) -> pd.DataFrame:
    """Invoice ids and ISO issue dates, as the payments check reads them from a database."""
    return pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"],
            "issue_date": pd.to_datetime(invoices["issue_date"]).dt.strftime("%Y-%m-%d"),
        }
    )


def _settled(invoices: pd.DataFrame, payments: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Invoices with the settled date their payments give (those without keep their own)."""
    amounts = pd.Series(invoices["amount"].to_numpy(dtype=float), index=invoices["invoice_id"])
    settled = settlement_dates(payments, amounts)
    has_payments = invoices["invoice_id"].isin(settled.index).to_numpy()
    own = pd.to_datetime(invoices.get("settled_date", pd.Series(pd.NaT, index=invoices.index)))
    from_payments = settled.reindex(invoices["invoice_id"]).to_numpy()
    new = np.where(has_payments, from_payments, own.to_numpy())
    changed = int((pd.Series(new).fillna(pd.Timestamp(0)) != own.fillna(pd.Timestamp(0))).sum())
    return invoices.assign(settled_date=pd.to_datetime(new)), changed


def _ledger(frames: dict[str, pd.DataFrame], report: ImportReport) -> Ledger:
    """The ledger of the accepted files, with customers that only other files name."""
    customers = frames.get("customers", pd.DataFrame({"customer_id": pd.Series(dtype=str)}))
    named = pd.concat(
        [frames[n]["customer_id"] for n in ("invoices", "disputes", "interactions") if n in frames]
    ).astype(str)
    unknown = pd.Index(named.unique()).difference(customers["customer_id"].astype(str))
    if len(unknown):
        examples = ", ".join(unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        report.warnings.append(
            f"{len(unknown):,} customers named by other files were not in a customers file "
            f"({examples}); created them without attributes"
        )
        customers = pd.concat([customers, pd.DataFrame({"customer_id": unknown})])
    for name, counts in report.entities.items():
        if name in ("invoices", "disputes", "interactions"):
            counts.customers_created = int(
                pd.Index(frames[name]["customer_id"].unique()).isin(unknown).sum()
            )
    return Ledger.from_frames(
        invoices=_with_extras(frames["invoices"], INVOICE_EXTRA_PREFIX),
        customers=_with_extras(customers.reset_index(drop=True), CUSTOMER_EXTRA_PREFIX),
        disputes=frames.get("disputes"),
        interactions=frames.get("interactions"),
        indicators=frames.get("economic_indicators"),
    )


def _with_extras(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The ``extra`` JSON as one prefixed column per feature, as :func:`load_ledger` reads it."""
    if "extra" not in frame:
        return frame
    return _expand_extra(frame.copy(), prefix)


def _reject(source: SourceTable, validated: ValidatedRows, report: ImportReport) -> int:
    """Add the file's problems to ``report``; return how many rows were rejected."""
    rejected = rejection(source, validated, limit=MAX_ERRORS_PER_FILE, value_chars=MAX_VALUE_CHARS)
    report.errors.extend(rejected.errors)
    return rejected.rows
