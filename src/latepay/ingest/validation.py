"""Turning a file's text rows into canonical rows, and finding the rows that cannot be imported.

:func:`validate` parses every mapped column (vectorised, see :mod:`~latepay.ingest.values` and
:mod:`~latepay.ingest.dates`), applies the entity's rules and collects each rejected value in
:class:`Problems`. Rules that need the database (a payment's invoice must exist and be issued
before it is paid) are in :func:`check_payments_against_invoices`, which the importer calls
with the invoices it looked up.

Entity rules: invoices need a due date (given, or issue date + payment_terms_days) not before
the issue date, a non-zero amount (negative = credit note, kept and flagged), a settled date
not before the issue date; payments a non-zero amount; disputes a resolution not before their
opening. Keys must be unique within a file, except in a ``denormalized`` file, where identical
repeats are one row and only conflicting repeats are errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from latepay.ingest.canonical import CanonicalField, EntitySpec, Kind
from latepay.ingest.dates import parse_dates
from latepay.ingest.fingerprint import canonical_text, derived_ids, fingerprints
from latepay.ingest.lookup import lookup
from latepay.ingest.mapping import EntityMapping
from latepay.ingest.readers import SourceTable
from latepay.ingest.report import RowError
from latepay.ingest.values import (
    ParsedColumn,
    no_reasons,
    parse_boolean,
    parse_currency,
    parse_days,
    parse_number,
    parse_text,
)

_PROBLEM_COLUMNS = ("position", "column", "value", "reason", "first_position")
# Columns the database requires that a mapping need not provide: inserted with these values.
_INSERT_DEFAULTS = {"customers": {"excluded_from_outreach": False}}


@dataclass
class Problems:
    """Rejected values of one file, collected a column at a time.

    Each problem names the row by its position in the file's data rows; ``first_position``
    points at the earlier row a duplicate repeats or conflicts with.
    """

    _parts: list[pd.DataFrame] = field(default_factory=list)

    def add(
        self,
        mask: pd.Series,
        *,
        column: str,
        values: pd.Series,
        reason: str | pd.Series,
        first_position: pd.Series | None = None,
    ) -> None:
        """Record a problem for every row where ``mask`` is True."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        part = pd.DataFrame(
            {
                "position": mask.index[mask].to_numpy(dtype=np.int64),
                "column": column,
                "value": values[mask].astype("str").to_numpy(),
                # A Series reason may cover only the masked rows.
                "reason": reason.loc[mask.index[mask]].to_numpy()
                if isinstance(reason, pd.Series)
                else reason,
                "first_position": (
                    first_position[mask].to_numpy(dtype=np.int64)
                    if first_position is not None
                    else -1
                ),
            }
        )
        self._parts.append(part)

    def frame(self) -> pd.DataFrame:
        """All problems, ordered by row position."""
        if not self._parts:
            return pd.DataFrame({name: [] for name in _PROBLEM_COLUMNS})
        problems = pd.concat(self._parts, ignore_index=True)
        return problems.sort_values("position", kind="stable", ignore_index=True)

    def __bool__(self) -> bool:
        return bool(self._parts)


@dataclass
class ValidatedRows:
    """A file's rows in canonical form, with what to write and what was wrong.

    Attributes
    ----------
    rows
        One row per key (repeats of a denormalized file collapsed), canonical columns plus
        ``row_hash``; indexed by the row's position in the file.
    text
        The file's text (after ``where``), to quote rejected values as written.
    insert_columns
        Columns written for a new row.
    update_columns
        Columns written when a row changed (the mapped ones, so unmapped data is kept).
    problems
        Rejected values.
    warnings
        Accepted oddities worth a look.
    """

    rows: pd.DataFrame
    text: pd.DataFrame
    insert_columns: list[str]
    update_columns: list[str]
    problems: Problems
    warnings: list[str]


def validate(spec: EntitySpec, entity: EntityMapping, source: SourceTable) -> ValidatedRows:
    """Parse and check the rows of one file.

    Parameters
    ----------
    spec
        The entity the file holds.
    entity
        Its section of the mapping.
    source
        The file's rows as text.

    Returns
    -------
    ValidatedRows
        Canonical rows and every problem found; the caller writes nothing when there is one.
    """
    text = _apply_where(source.frame, entity.where)
    problems = Problems()
    warnings: list[str] = []
    rows = pd.DataFrame(index=text.index)
    for canonical, column in entity.columns.items():
        field_spec = spec.fields[canonical]
        parsed = _parse_field(
            spec, entity, field_spec, text[column].str.strip(), source.name, column
        )
        problems.add(parsed.invalid, column=column, values=text[column], reason=parsed.reasons)
        if field_spec.required:
            problems.add(
                text[column].str.strip() == "",
                column=column,
                values=text[column],
                reason=f"empty, but {canonical} is required",
            )
        rows[canonical] = parsed.values

    context = _RuleContext(rows, text, entity, problems, warnings, source.name)
    derived = _ENTITY_RULES[spec.name](context)
    if entity.features:
        rows["extra"] = _features_json(text, entity.features)
        derived.append("extra")
    if spec.derived_key_prefix and spec.key[0] not in rows:
        basis = [name for name in spec.derived_key_from if name in rows]
        rows[spec.key[0]] = derived_ids(spec.derived_key_prefix, rows, basis)

    stored = [
        name
        for name, f in spec.fields.items()
        if f.stored and name in rows and name not in spec.key
    ]
    content_columns = list(dict.fromkeys([*spec.key, *stored, *derived]))
    rows["row_hash"] = fingerprints(rows, content_columns)
    rows = _one_row_per_key(spec, entity, rows, text, problems)

    defaults = {
        name: value
        for name, value in _INSERT_DEFAULTS.get(spec.name, {}).items()
        if name not in content_columns
    }
    for name, value in defaults.items():
        rows[name] = value
    return ValidatedRows(
        rows=rows,
        text=text,
        insert_columns=[*content_columns, *defaults, "row_hash"],
        update_columns=[name for name in content_columns if name not in spec.key] + ["row_hash"],
        problems=problems,
        warnings=warnings,
    )


def check_payments_against_invoices(
    validated: ValidatedRows, entity: EntityMapping, invoices: pd.DataFrame
) -> None:
    """Reject payments of unknown invoices and payments dated before their invoice's issue.

    Parameters
    ----------
    validated
        The payments file, validated; problems are added to it.
    entity
        The payments mapping (for source column names).
    invoices
        ``invoice_id`` and ``issue_date`` (ISO text) of the stored invoices the payments name.
    """
    rows, text = validated.rows, validated.text
    stored_issue_dates = pd.to_datetime(invoices["issue_date"], format="%Y-%m-%d")
    issue_dates = lookup(rows["invoice_id"], invoices["invoice_id"], stored_issue_dates)
    invoice_column = entity.columns["invoice_id"]
    validated.problems.add(
        rows["invoice_id"].notna() & issue_dates.isna(),
        column=invoice_column,
        values=text.loc[rows.index, invoice_column],
        reason="no invoice with this id in the database or in this import",
    )
    early = rows["paid_date"] < issue_dates
    paid_column = entity.columns["paid_date"]
    validated.problems.add(
        early,
        column=paid_column,
        values=text.loc[rows.index, paid_column],
        reason=_with_date("paid before the invoice's issue date ", issue_dates, early),
    )


def _apply_where(text: pd.DataFrame, where: dict[str, str]) -> pd.DataFrame:
    keep = pd.Series(True, index=text.index)
    for column, value in where.items():
        keep &= text[column].str.strip() == value.strip()
    return text if keep.all() else text[keep]


def _parse_field(
    spec: EntitySpec,
    entity: EntityMapping,
    field_spec: CanonicalField,
    text: pd.Series,
    file_name: str,
    column: str,
) -> ParsedColumn:
    kind = field_spec.kind
    if kind in (Kind.DATE, Kind.PERIOD):
        dates = parse_dates(
            text,
            declared_format=entity.date_formats.get(field_spec.name),
            allow_month=kind is Kind.PERIOD,
            file_name=file_name,
            column=column,
            canonical=field_spec.name,
        )
        reasons = no_reasons(text).mask(dates.invalid, dates.reason())
        return ParsedColumn(dates.values, reasons)
    if kind in (Kind.AMOUNT, Kind.NUMBER):
        return parse_number(text, amount=kind is Kind.AMOUNT)
    if kind is Kind.DAYS:
        return parse_days(text)
    if kind is Kind.BOOLEAN:
        return parse_boolean(text)
    if kind is Kind.CURRENCY:
        return parse_currency(text)
    return parse_text(
        text, max_length=spec.max_length(field_spec.name), lowercase=kind is Kind.LOWERCASE
    )


@dataclass
class _RuleContext:
    """What an entity's rules read and add to."""

    rows: pd.DataFrame
    text: pd.DataFrame
    entity: EntityMapping
    problems: Problems
    warnings: list[str]
    file_name: str

    def reject(self, mask: pd.Series, canonical: str, reason: str | pd.Series) -> None:
        column = self.entity.columns[canonical]
        self.problems.add(mask, column=column, values=self.text[column], reason=reason)


def _customer_rules(context: _RuleContext) -> list[str]:
    rows = context.rows
    # A customer file vouches for its customers: any created earlier from an invoice is now real.
    rows["auto_created"] = False
    if "excluded_from_outreach" in rows:
        rows["excluded_from_outreach"] = rows["excluded_from_outreach"].fillna(False)
    return ["auto_created"]


def _invoice_rules(context: _RuleContext) -> list[str]:
    rows, columns = context.rows, context.entity.columns
    if "payment_terms_days" in rows:
        from_terms = rows["issue_date"] + pd.to_timedelta(rows["payment_terms_days"], unit="D")
        rows["due_date"] = rows["due_date"].fillna(from_terms) if "due_date" in rows else from_terms
    due_source = "due_date" if "due_date" in columns else "payment_terms_days"
    already_rejected = _rejected(
        context.problems, columns, ("due_date", "payment_terms_days"), rows.index
    )
    context.reject(
        rows["due_date"].isna() & rows["issue_date"].notna() & ~already_rejected,
        due_source,
        "empty, but a due date (or payment_terms_days to derive it from) is required",
    )
    for later in ("due_date", "settled_date"):
        if later in columns:
            early = rows[later] < rows["issue_date"]
            reason = _with_date(f"{later} is before the issue date ", rows["issue_date"], early)
            context.reject(early, later, reason)
    context.reject(
        rows["amount"] == 0, "amount", "zero amount: an invoice must be for a non-zero amount"
    )
    rows["is_credit_note"] = (rows["amount"] < 0).fillna(False).astype(bool)
    credit_notes = int(rows["is_credit_note"].sum())
    if credit_notes:
        context.warnings.append(
            f"{context.file_name}: {credit_notes:,} invoices have a negative amount; imported as "
            "credit notes (is_credit_note=True), which are kept out of training"
        )
    return ["due_date", "is_credit_note"]


def _payment_rules(context: _RuleContext) -> list[str]:
    context.reject(
        context.rows["amount"] == 0,
        "amount",
        "zero amount: a payment must be for a non-zero amount",
    )
    return []


def _dispute_rules(context: _RuleContext) -> list[str]:
    rows = context.rows
    if "resolved_date" in rows:
        early = rows["resolved_date"] < rows["opened_date"]
        reason = _with_date("resolved before the day it was opened, ", rows["opened_date"], early)
        context.reject(early, "resolved_date", reason)
    return []


def _interaction_rules(context: _RuleContext) -> list[str]:
    return []


def _indicator_rules(context: _RuleContext) -> list[str]:
    rows = context.rows
    # The key is part of the primary key: a global indicator has the key ''.
    rows["key"] = rows["key"].fillna("").astype("str") if "key" in rows else ""
    return ["key"]


_ENTITY_RULES = {
    "customers": _customer_rules,
    "invoices": _invoice_rules,
    "payments": _payment_rules,
    "disputes": _dispute_rules,
    "interactions": _interaction_rules,
    "economic_indicators": _indicator_rules,
}


def _with_date(reason: str, dates: pd.Series, rows: pd.Series) -> pd.Series:
    """``reason`` followed by the ISO date, for the selected ``rows`` only (cheap when few)."""
    return reason + canonical_text(dates[rows])


def _rejected(
    problems: Problems, columns: dict[str, str], canonical: tuple[str, ...], index: pd.Index
) -> pd.Series:
    """True for the rows of ``index`` with a problem in a source column of ``canonical``."""
    found = problems.frame()
    sources = [columns[name] for name in canonical if name in columns]
    positions = found.loc[found["column"].isin(sources), "position"]
    return pd.Series(index.isin(positions), index=index)


def _features_json(text: pd.DataFrame, features: list[str]) -> pd.Series:
    """The ``extra`` JSON of each row: feature columns by source name, numbers kept as numbers."""
    members = []
    for name in sorted(features):
        values = text[name].str.strip()
        filled = values[values != ""]
        if filled.str.fullmatch(r"-?(?:0|[1-9]\d*)(?:\.\d+)?").all():
            as_json = pa.array(values.array, type=pa.string())
        else:  # JSON-quote each distinct text once
            codes, uniques = pd.factorize(values)
            quoted = pa.array([json.dumps(value) for value in uniques], type=pa.string())
            as_json = quoted.take(pa.array(codes))
        as_json = pc.if_else(pa.array((values == "").to_numpy()), "null", as_json)
        members.append(pc.binary_join_element_wise(json.dumps(name), as_json, ": "))
    body = pc.binary_join_element_wise(*members, ", ")
    as_text = pc.binary_join_element_wise("{", body, "}", "")
    return pd.Series(as_text.to_pandas().array, index=text.index)


def _one_row_per_key(
    spec: EntitySpec,
    entity: EntityMapping,
    rows: pd.DataFrame,
    text: pd.DataFrame,
    problems: Problems,
) -> pd.DataFrame:
    key = list(spec.key)
    has_key = rows[key].notna().all(axis=1)
    keyed = rows[has_key]
    repeated = keyed.duplicated(key, keep="first")
    if not repeated.any():
        return rows
    positions = pd.Series(keyed.index, index=keyed.index)
    first_position = positions.groupby([keyed[k] for k in key], sort=False).transform("first")
    key_column = entity.columns.get(key[0], key[0])
    key_text = text.loc[keyed.index, key_column] if key_column in text else keyed[key[0]]
    if not entity.denormalized:
        problems.add(
            repeated,
            column=key_column,
            values=key_text,
            reason=f"duplicate {' + '.join(key)}: a file may hold each only once",
            first_position=first_position,
        )
        return rows
    conflicting = repeated & (keyed["row_hash"] != keyed["row_hash"].loc[first_position].to_numpy())
    if conflicting.any():
        _report_conflicts(entity, keyed, first_position[conflicting], text, problems)
    return rows.drop(index=keyed.index[repeated & ~conflicting])


def _report_conflicts(
    entity: EntityMapping,
    keyed: pd.DataFrame,
    first_position: pd.Series,
    text: pd.DataFrame,
    problems: Problems,
) -> None:
    """Name, for each conflicting repeat, the first column that differs from the key's first row.

    ``first_position`` is indexed by the conflicting rows and holds their key's first row.
    """
    here_index, first_index = first_position.index, first_position.to_numpy()
    reported = pd.Series(False, index=here_index)
    compared = [*entity.columns.items(), *((name, name) for name in entity.features)]
    for canonical, column in compared:
        if canonical in keyed:  # canonical values, so '1,000.00' and '1000' agree
            values = canonical_text(keyed[canonical]).fillna("")
        else:
            values = text.loc[keyed.index, column].str.strip()
        differs = values.loc[here_index].to_numpy() != values.loc[first_index].to_numpy()
        new = pd.Series(differs, index=here_index) & ~reported
        problems.add(
            new,
            column=column,
            values=text.loc[here_index, column],
            reason="differs from an earlier row with the same key; a denormalized file must "
            "repeat the same values",
            first_position=first_position,
        )
        reported |= new


@dataclass(frozen=True)
class Rejection:
    """Why a file's rows cannot be taken, as its user reads it.

    Attributes
    ----------
    errors
        The first errors by line: rows with the wrong number of fields and rejected values.
    total
        Errors in all, listed or not.
    rows
        Distinct rows with at least one error.
    """

    errors: list[RowError]
    total: int
    rows: int


def rejection(
    source: SourceTable, validated: ValidatedRows, *, limit: int, value_chars: int
) -> Rejection:
    """The first ``limit`` errors of ``source`` by line, each value cut to ``value_chars``.

    A duplicate key names the line of the row it repeats or conflicts with.
    """
    problems = validated.problems.frame()
    errors = [
        RowError(
            file=source.name,
            line=int(line),
            column="",
            value=row.text[:value_chars],
            reason=f"has {row.fields} fields but the header has {source.expected_fields}",
        )
        for row, line in zip(
            source.malformed_rows[:limit], source.malformed_lines()[:limit], strict=True
        )
    ]
    shown = problems.head(limit)
    if len(shown):
        lines = source.lines(shown["position"].to_numpy(dtype=np.int64))
        first_positions = shown["first_position"].to_numpy(dtype=np.int64)
        first_lines = source.lines(np.maximum(first_positions, 0))
        for problem, line, first_line, first_position in zip(
            shown.itertuples(index=False), lines, first_lines, first_positions, strict=True
        ):
            reason = problem.reason
            if first_position >= 0:
                reason = f"{reason} (first on line {first_line})"
            errors.append(
                RowError(
                    file=source.name,
                    line=int(line),
                    column=problem.column,
                    value=str(problem.value)[:value_chars],
                    reason=reason,
                )
            )
    errors.sort(key=lambda error: error.line)
    return Rejection(
        errors=errors[:limit],
        total=len(problems) + len(source.malformed_rows),
        rows=int(problems["position"].nunique()) + len(source.malformed_rows),
    )
