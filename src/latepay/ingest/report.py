"""What an import did: counts per entity, warnings, and the rows it refused."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RowError:
    """One rejected value: where it is and why.

    Attributes
    ----------
    file
        The file's name.
    line
        Line in the file (header = 1, first data row = 2); for Parquet, the row number
        counted the same way.
    column
        The source column, or ``""`` when the whole row is at fault.
    value
        The value as written in the file.
    reason
        What is wrong with it, in words a user can act on.
    """

    file: str
    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.column:
            return f"{where}: column {self.column} value {self.value!r}: {self.reason}"
        return f"{where}: {self.reason}"


@dataclass
class EntityCounts:
    """Outcome for one entity's file.

    Attributes
    ----------
    file
        The file that was (or would have been) read.
    inserted, updated, unchanged
        Rows written as new, rows whose values changed, rows already as in the file.
    rejected
        Rows with at least one error; when non-zero nothing of the file was written.
    skipped
        Not imported because an earlier file had errors.
    customers_created
        Unknown customers this file referred to, created with ``auto_created=True``.
    settlements_changed
        Invoices whose ``settled_date`` this file's payments (or updates) changed.
    """

    file: Path
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: bool = False
    customers_created: int = 0
    settlements_changed: int = 0

    @property
    def written(self) -> int:
        """Rows this file wrote to any table."""
        return self.inserted + self.updated + self.customers_created + self.settlements_changed


@dataclass
class ImportReport:
    """The outcome of :func:`latepay.ingest.import_mapping`.

    Attributes
    ----------
    entities
        Entity name → its counts, in import order.
    warnings
        Things that were imported but deserve a look (credit notes, created customers).
    errors
        Rejected values; files with any were not written, and the files after them skipped.
    """

    entities: dict[str, EntityCounts] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file was imported."""
        return not self.errors and not any(c.skipped or c.rejected for c in self.entities.values())

    @property
    def nothing_changed(self) -> bool:
        """True when the import wrote no row at all (e.g. the same files imported again)."""
        return all(counts.written == 0 for counts in self.entities.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (``latepay import --json``)."""
        return {
            "ok": self.ok,
            "nothing_changed": self.nothing_changed,
            "entities": {
                name: {**asdict(counts), "file": str(counts.file)}
                for name, counts in self.entities.items()
            },
            "warnings": list(self.warnings),
            "errors": [asdict(error) for error in self.errors],
        }
