"""Score a file of new invoices (``latepay score FILE``): each as of the moment it is issued.

The file (.csv, .csv.gz or .parquet) holds invoices under the canonical column names of
GUIDE §2, or under its own names read through the ``invoices`` section of an import mapping.
It is read and checked by the importer's own readers and validation, so a value means here
exactly what it means in ``latepay import``; a file with any bad row is refused whole, with
the line, column and reason of its first problems. The invoices are not stored: they are
scored against the database's ledger, each as of its issue date, and the scores recorded in
``predictions`` like any other (:func:`latepay.scoring.batch.score_and_record`).

Extra invoice features a model was trained with (a mapping's ``features``) are columns of the
file under their source names: ``po_number_required`` for the model's
``inv_po_number_required``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from latepay.errors import InputError
from latepay.features import Ledger
from latepay.features.ledger import INVOICE_EXTRA_PREFIX
from latepay.ingest import EntityMapping, load_mapping
from latepay.ingest.canonical import INVOICES
from latepay.ingest.readers import SourceTable, read_header, read_table
from latepay.ingest.validation import ValidatedRows, rejection, validate
from latepay.models.training import LateModel
from latepay.scoring.batch import REASONS_PER_INVOICE, BatchScores, OnChunk, score_and_record

PROBLEMS_SHOWN = 5
_MAX_VALUE_CHARS = 80  # of a value quoted in the one-line error
# The canonical invoice columns a score reads (a due date may come from payment_terms_days).
SCORED_COLUMNS = (
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "currency",
    "payment_method",
    "channel",
)
# A new invoice is scored as of its issue: whether and when it was settled is not yet known.
_NOT_READ = ("settled_date",)


@dataclass(frozen=True)
class InvoiceFile:
    """The invoices of a file, checked and in canonical form, ready to be scored.

    Attributes
    ----------
    path
        The file.
    invoices
        One row per invoice to score, in file order: invoice_id, customer_id, issue_date,
        due_date, amount, currency, payment_method, channel and the model's ``inv_`` features.
    credit_notes
        Rows with a negative amount: credit notes, which are not scored.
    """

    path: Path
    invoices: pd.DataFrame
    credit_notes: int

    @property
    def warnings(self) -> list[str]:
        if not self.credit_notes:
            return []
        rows = "1 row has" if self.credit_notes == 1 else f"{self.credit_notes:,} rows have"
        return [f"{self.path.name}: {rows} a negative amount; credit notes are not scored"]


def read_invoice_file(path: Path, model: LateModel, *, mapping: Path | None = None) -> InvoiceFile:
    """Read and check a file of new invoices for ``model``.

    Parameters
    ----------
    path : Path
        A .csv, .csv.gz or .parquet file of invoices.
    model : fitted model
        The model that will score them: the file must hold its extra invoice features.
    mapping : Path, optional
        An import mapping whose ``invoices`` section names the file's columns (its ``path``
        is ignored); without one, the file uses the canonical column names.

    Returns
    -------
    InvoiceFile

    Raises
    ------
    InputError
        When the file cannot be read, lacks a column, or has rows that cannot be scored (the
        message lists the first ones by line, column and reason).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"file {path} does not exist")
    features = _model_invoice_features(model)
    header = read_header(path)
    if mapping is None:
        entity = _canonical_entity(path, header)
    else:
        entity = _mapped_entity(Path(mapping), features)
    _check_columns(path, header, entity, features)
    source = read_table(path, list(dict.fromkeys([*entity.source_columns(), *features])))
    validated = validate(INVOICES, entity, source)
    _refuse_bad_rows(source, validated)

    rows = validated.rows
    invoices = rows[[c for c in SCORED_COLUMNS if c in rows]].copy()
    for feature in features:
        text = validated.text.loc[rows.index, feature].str.strip()
        invoices[f"{INVOICE_EXTRA_PREFIX}{feature}"] = text.where(text != "", None)
    is_credit_note = rows["is_credit_note"].to_numpy()
    return InvoiceFile(
        path=path,
        invoices=invoices[~is_credit_note].reset_index(drop=True),
        credit_notes=int(is_credit_note.sum()),
    )


def score_invoice_file(
    engine: Engine,
    model: LateModel,
    ledger: Ledger,
    invoice_file: InvoiceFile,
    *,
    tier_cutoffs: tuple[float, float, float],
    output: Path,
    reasons: int = REASONS_PER_INVOICE,
    on_chunk: OnChunk | None = None,
) -> BatchScores:
    """Score each invoice of ``invoice_file`` as of its issue date; record and write the scores.

    Parameters
    ----------
    engine : Engine
        The database whose ledger the invoices are scored against, and where the scores are
        recorded in ``predictions`` (the invoices themselves are not stored).
    model : fitted model
    ledger : Ledger
        The database's ledger.
    invoice_file : InvoiceFile
        From :func:`read_invoice_file`.
    tier_cutoffs : tuple of three floats
    output : Path
        CSV file of the scores.
    reasons : int
        Reasons per invoice (0 for none).
    on_chunk : callable, optional
        Called as ``on_chunk(done, total)`` as chunks of invoices are scored.
    """
    invoices = invoice_file.invoices
    return score_and_record(
        engine,
        model,
        ledger,
        invoices,
        moments=invoices["issue_date"],
        tier_cutoffs=tier_cutoffs,
        output=output,
        reasons=reasons,
        on_chunk=on_chunk,
    )


def _model_invoice_features(model: LateModel) -> list[str]:
    """Source names of the extra invoice features ``model`` was trained with."""
    return [
        column.removeprefix(INVOICE_EXTRA_PREFIX)
        for column in model.schema_.columns
        if column.startswith(INVOICE_EXTRA_PREFIX)
    ]


def _canonical_entity(path: Path, header: list[str]) -> EntityMapping:
    """The file read under the canonical names: each canonical column maps to itself."""
    required = [name for name, field in INVOICES.fields.items() if field.required]
    missing = [name for name in required if name not in header]
    missing += [
        " or ".join(group)
        for group in INVOICES.one_of_required
        if not any(name in header for name in group)
    ]
    if missing:
        needed = [*required, *(" or ".join(group) for group in INVOICES.one_of_required)]
        raise InputError(
            f"{path}: no column {missing[0]}; a file of invoices needs the columns "
            f"{', '.join(needed)} (or --mapping MAPPING.yaml naming its own columns); "
            f"the file has: {', '.join(header)}"
        )
    columns = {name: name for name in INVOICES.fields if name in header and name not in _NOT_READ}
    return EntityMapping(path=path, columns=columns)


def _mapped_entity(mapping_path: Path, features: list[str]) -> EntityMapping:
    """The mapping's ``invoices`` section, without the columns a new invoice cannot have."""
    mapping = load_mapping(mapping_path)
    if "invoices" not in mapping.entities:
        raise InputError(
            f"{mapping_path}: no invoices section; --mapping reads the file through the "
            "columns of its invoices section"
        )
    entity = mapping.entities["invoices"]
    undeclared = [name for name in features if name not in entity.features]
    if undeclared:
        raise InputError(
            f"{mapping_path}: the model was trained with the invoice feature {undeclared[0]!r}, "
            "which the invoices section does not list under features; use the mapping the "
            "model's data was imported with"
        )
    return entity.model_copy(
        update={
            "columns": {k: v for k, v in entity.columns.items() if k not in _NOT_READ},
            "date_formats": {k: v for k, v in entity.date_formats.items() if k not in _NOT_READ},
            # Read by read_invoice_file itself: validation would only turn them into JSON.
            "features": [],
        }
    )


def _check_columns(
    path: Path, header: list[str], entity: EntityMapping, features: list[str]
) -> None:
    roles = {
        **{column: f"mapped to invoices.{name}" for name, column in entity.columns.items()},
        **dict.fromkeys(entity.where, "in the where filter of invoices"),
        **dict.fromkeys(
            features, "an invoice feature the model was trained with, so each invoice needs it"
        ),
    }
    for column, role in roles.items():
        if column not in header:
            close = difflib.get_close_matches(column, header, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"{path}: no column {column!r} ({role}){hint}; the file has: {', '.join(header)}"
            )


def _refuse_bad_rows(source: SourceTable, validated: ValidatedRows) -> None:
    """Raise one InputError naming the first bad rows, when there are any."""
    if not (validated.problems or source.malformed_rows):
        # Naming a bad row reads the whole file again for line numbers: not for a good file.
        return
    rejected = rejection(source, validated, limit=PROBLEMS_SHOWN, value_chars=_MAX_VALUE_CHARS)
    unlisted = rejected.total - len(rejected.errors)
    raise InputError(
        f"{source.name}: "
        + ("1 row cannot" if rejected.rows == 1 else f"{rejected.rows:,} rows cannot")
        + " be scored, so none was: "
        + "; ".join(str(error) for error in rejected.errors)
        + (f"; and {unlisted:,} more" if unlisted else "")
    )
