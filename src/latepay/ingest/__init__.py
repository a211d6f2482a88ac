"""Importing accounts-receivable exports (GUIDE §3): mapping, reading, validation, upserts.

``import_mapping(engine, "mapping.yaml")`` reads the files a mapping describes, checks every
row, and writes each file in one transaction, idempotently: importing the same files again
writes nothing. Rows that cannot be imported are reported with file, line, column and reason.
"""

from latepay.ingest.importer import import_mapping
from latepay.ingest.mapping import EntityMapping, Mapping, load_mapping
from latepay.ingest.report import EntityCounts, ImportReport, RowError

__all__ = [
    "EntityCounts",
    "EntityMapping",
    "ImportReport",
    "Mapping",
    "RowError",
    "import_mapping",
    "load_mapping",
]
