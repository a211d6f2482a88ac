"""The mapping file (GUIDE §3): which export file holds each entity, and which column is which.

A mapping is YAML with one section per entity::

    invoices:
      path: ar_invoices.csv            # relative to the mapping file (or to --data-dir)
      columns: {invoice_id: DOC_NO, customer_id: CUST_NO, issue_date: DOC_DATE, ...}
      date_formats: {issue_date: "%d.%m.%Y"}   # optional; otherwise inferred
      features: [PAY_METHOD]                    # optional; kept in the ``extra`` column
      where: {DOC_TYPE: "INV"}                  # optional; keep only matching rows
      denormalized: true                        # optional; the key repeats (flat export)

:func:`load_mapping` checks everything that can be checked without opening the data files,
so a typo in a canonical name fails before anything is imported.
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from latepay.errors import InputError
from latepay.ingest.canonical import ENTITIES, EntitySpec, Kind

_DATE_KINDS = (Kind.DATE, Kind.PERIOD)


class EntityMapping(BaseModel):
    """How one entity is read from one file.

    Attributes
    ----------
    path
        The file, as written in the mapping (see :meth:`Mapping.resolve`).
    columns
        Canonical field name → source column name.
    date_formats
        Canonical date field → strptime format, for columns whose format should not be inferred.
    features
        Extra source columns stored in the ``extra`` JSON column (customers and invoices).
    where
        Source column → value: only rows whose column equals the value are imported.
    denormalized
        The file is a flat export in which the key repeats: identical repeats are one row.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    columns: dict[str, str] = Field(min_length=1)
    date_formats: dict[str, str] = Field(default_factory=dict)
    features: list[str] = Field(default_factory=list)
    where: dict[str, str] = Field(default_factory=dict)
    denormalized: bool = False

    @field_validator("where", mode="before")
    @classmethod
    def _where_values_are_text(cls, where: Any) -> Any:
        # YAML 1.1 reads an unquoted Yes as True: the file's "Yes" would then never match.
        if isinstance(where, dict):
            for column, value in where.items():
                if isinstance(value, bool):
                    raise ValueError(
                        f"the value for {column} is the YAML boolean {value}; quote it as it "
                        f'is written in the file, e.g. {column}: "Yes"'
                    )
            return {
                column: str(value) if isinstance(value, int | float) else value
                for column, value in where.items()
            }
        return where

    def source_columns(self) -> list[str]:
        """Every source column this entity reads, each once, in a stable order."""
        names = [*self.columns.values(), *self.features, *self.where]
        return list(dict.fromkeys(names))


class Mapping(BaseModel):
    """A whole mapping file, checked against the canonical schema.

    Attributes
    ----------
    source
        The mapping file it was read from.
    base_dir
        The folder the entities' paths are relative to.
    entities
        Entity name → its mapping, in dependency (import) order.
    """

    model_config = ConfigDict(frozen=True)

    source: Path
    base_dir: Path
    entities: dict[str, EntityMapping]

    def resolve(self, entity: str) -> Path:
        """The file of ``entity``: its path joined to :attr:`base_dir` unless absolute."""
        return (self.base_dir / self.entities[entity].path).resolve()


def load_mapping(path: Path, data_dir: Path | None = None) -> Mapping:
    """Read and check a mapping file.

    Parameters
    ----------
    path
        The YAML mapping file.
    data_dir
        Folder the files' paths are relative to; by default the mapping file's own folder.

    Returns
    -------
    Mapping
        The mapping with canonical aliases resolved and entities in import order.

    Raises
    ------
    InputError
        When the file is missing or not YAML, or names an unknown entity or canonical field,
        lacks a required one, or declares a date format that cannot parse a date.

    Examples
    --------
    >>> mapping = load_mapping(Path("examples/ibm-ar/mapping.yaml"))  # doctest: +SKIP
    >>> list(mapping.entities)  # doctest: +SKIP
    ['customers', 'invoices', 'disputes']
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"mapping file {path.resolve()} does not exist")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable YAML file: {error}".replace("\n", " ")) from None
    if not isinstance(document, dict) or not document:
        raise InputError(
            f"{path}: expected one section per entity ({', '.join(ENTITIES)}), "
            f"found {type(document).__name__ if document is not None else 'an empty file'}"
        )
    unknown = [str(name) for name in document if name not in ENTITIES]
    if unknown:
        raise InputError(
            f"{path}: unknown entity {_with_suggestion(unknown[0], ENTITIES)}; "
            f"expected one of {', '.join(ENTITIES)}"
        )
    entities: dict[str, EntityMapping] = {}
    for name, spec in ENTITIES.items():  # dependency order, whatever the file's order
        if name not in document:
            continue
        try:
            entity = EntityMapping.model_validate(document[name])
        except ValidationError as error:
            raise InputError(f"{path}: {name}: {_pydantic_message(error)}") from None
        entities[name] = _check_against_schema(path, spec, entity)
    base_dir = Path(data_dir) if data_dir is not None else path.parent
    return Mapping(source=path.resolve(), base_dir=base_dir.resolve(), entities=entities)


def _check_against_schema(path: Path, spec: EntitySpec, entity: EntityMapping) -> EntityMapping:
    where = f"{path}: {spec.name}"
    columns: dict[str, str] = {}
    for name, source in entity.columns.items():
        canonical = spec.aliases.get(name, name)
        if canonical not in spec.fields:
            raise InputError(
                f"{where}: unknown canonical column {_with_suggestion(name, spec.fields)}; "
                f"{spec.name} has {', '.join(spec.fields)}"
            )
        if canonical in columns:
            raise InputError(f"{where}: {canonical} is mapped twice (as {name} and an alias)")
        columns[canonical] = source
    missing = [
        name for name, field in spec.fields.items() if field.required and name not in columns
    ]
    if missing:
        raise InputError(
            f"{where}: the required canonical column {missing[0]} is not mapped; "
            f"add it under columns, e.g. {missing[0]}: SOURCE_COLUMN"
        )
    for group in spec.one_of_required:
        if not any(name in columns for name in group):
            raise InputError(f"{where}: map at least one of {' or '.join(group)}")
    for name, date_format in entity.date_formats.items():
        field = spec.fields.get(name)
        if field is None or field.kind not in _DATE_KINDS:
            hint = (
                " (use the canonical name, not the source column)"
                if name in columns.values()
                else ""
            )
            raise InputError(
                f"{where}: date_formats names {name!r}, which is not a date field{hint}"
            )
        if name not in columns:
            raise InputError(f"{where}: date_formats names {name}, which columns does not map")
        _check_date_format(where, name, date_format)
    if entity.features and not spec.keeps_features:
        raise InputError(f"{where}: features are kept for customers and invoices only")
    return entity.model_copy(update={"columns": columns})


def _check_date_format(where: str, name: str, date_format: str) -> None:
    sample = dt.datetime(2001, 2, 3, 4, 5, 6)
    try:
        round_trip = dt.datetime.strptime(sample.strftime(date_format), date_format)
    except ValueError:
        round_trip = None
    if round_trip is None or round_trip.date() != sample.date():
        raise InputError(
            f"{where}: date_formats.{name} = {date_format!r} cannot read a date back; "
            'use strptime codes such as "%d/%m/%Y" or "%Y-%m-%d"'
        )


def _with_suggestion(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)


def _pydantic_message(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
    return "; ".join(problems)
