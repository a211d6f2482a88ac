"""Date arithmetic inside SQL, the same on SQLite and PostgreSQL.

Aggregating in the database (how many invoices each customer paid late) returns a row per
customer instead of a row per invoice; the dashboard's pages need that to load fast. SQLite
keeps dates as ISO text and has no date subtraction, PostgreSQL subtracts dates to whole days.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class days_between(FunctionElement):
    """Whole days from the date ``earlier`` to the date ``later``: ``later - earlier``."""

    type = sa.Integer()
    inherit_cache = True
    name = "days_between"

    def __init__(self, later, earlier) -> None:
        super().__init__(later, earlier)


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({later} - {earlier})"
