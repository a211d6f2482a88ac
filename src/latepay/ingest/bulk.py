"""Bulk reads and writes of DataFrames, fast on both SQLite and PostgreSQL.

Everything runs on the caller's connection, inside its transaction, and in chunks of
:data:`CHUNK_ROWS` rows so memory stays bounded whatever the file size:

- SQLite: ``executemany`` of plain tuples on the DBAPI cursor (one prepared statement);
- PostgreSQL: ``COPY ... FROM STDIN`` (CSV written by Arrow) for inserts; ``COPY`` into a
  temporary table and one ``UPDATE ... FROM`` for updates; ``COPY ... TO STDOUT`` (CSV) for
  large reads.

Dates are written as ISO text, NULL as ``None`` (SQLite) or an unquoted empty CSV field
(PostgreSQL). Reads return every column as text (NaN for NULL); callers parse what they need.
Rows are written in primary-key order (see :func:`_in_key_order`).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy import Connection

from latepay.ingest.fingerprint import canonical_arrow
from latepay.ingest.lookup import is_in

CHUNK_ROWS = 50_000
# Above this many keys a filtered read scans the table instead of sending the keys.
_MAX_KEYS_SENT = 20_000
_SQLITE_KEYS_PER_QUERY = 500  # well below SQLite's limit on bound parameters
_SQLITE_CACHE_KIB = 256 * 1024  # page cache while importing; SQLite's default is 2 MiB
_POSTGRES_WORK_MEM = "256MB"  # for the hash join of a large UPDATE ... FROM

RowsWritten = Callable[[int], None]


def is_postgres(connection: Connection) -> bool:
    """True when ``connection`` talks to PostgreSQL (else it is SQLite)."""
    return connection.dialect.name == "postgresql"


@contextmanager
def bulk_session(connection: Connection) -> Iterator[None]:
    """Tune ``connection`` for writing a large file, and restore it afterwards.

    SQLite's default page cache (2 MiB) is far smaller than the indexes of a million-row
    table, so inserts in key order elsewhere keep evicting the pages they need next. The
    setting belongs to the connection, not to a transaction, so this may wrap transactions.
    """
    if is_postgres(connection):
        yield
        return
    driver = connection.connection.driver_connection
    previous = driver.execute("PRAGMA cache_size").fetchone()[0]
    driver.execute(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size = {int(previous)}")


def insert_frame(
    connection: Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    now: dt.datetime,
    on_rows: RowsWritten | None = None,
) -> None:
    """Insert ``frame[columns]`` (plus ``updated_at = now``) into ``table``.

    Parameters
    ----------
    connection
        An open connection inside a transaction.
    table
        The target table.
    frame
        Canonical values; dates as ``datetime64``.
    columns
        Columns of ``frame`` to write.
    now
        Written to ``updated_at``.
    on_rows
        Called with the number of rows written after each chunk.
    """
    frame = _in_key_order(table, frame)
    if is_postgres(connection):
        _copy_in(connection, table.name, frame, columns, now=now, on_rows=on_rows)
        return
    names = [*columns, "updated_at"]
    placeholders = ", ".join("?" for _ in names)
    statement = (
        f"INSERT INTO {_quote(connection, table.name)} ({_column_list(connection, names)}) "
        f"VALUES ({placeholders})"
    )
    with _driver_cursor(connection) as cursor:
        for chunk in _tuples(connection, table, frame, columns, now):
            cursor.executemany(statement, chunk)
            _report(on_rows, len(chunk))


def update_frame(
    connection: Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    key: Sequence[str],
    columns: Sequence[str],
    *,
    now: dt.datetime,
    on_rows: RowsWritten | None = None,
) -> None:
    """Set ``columns`` (and ``updated_at = now``) of the rows of ``table`` matching ``frame[key]``.

    Parameters are those of :func:`insert_frame`, plus ``key``, the columns that identify a row.
    """
    frame = _in_key_order(table, frame)
    if is_postgres(connection):
        _update_postgres(connection, table, frame, key, columns, now=now, on_rows=on_rows)
        return
    names = [*columns, "updated_at"]
    assignments = ", ".join(f"{_quote(connection, name)} = ?" for name in names)
    matches = " AND ".join(f"{_quote(connection, name)} = ?" for name in key)
    statement = f"UPDATE {_quote(connection, table.name)} SET {assignments} WHERE {matches}"
    with _driver_cursor(connection) as cursor:
        for chunk in _tuples(connection, table, frame, [*columns, *key], now, now_at=len(columns)):
            cursor.executemany(statement, chunk)
            _report(on_rows, len(chunk))


def fetch_frame(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[str],
    *,
    where_in: tuple[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """Read ``columns`` of ``table`` as text, optionally only rows whose column is in a set.

    Parameters
    ----------
    connection
        An open connection.
    table
        The table to read.
    columns
        Columns to read.
    where_in
        ``(column, values)``: only rows whose ``column`` is one of ``values``.

    Returns
    -------
    pandas.DataFrame
        One text column per requested column, NaN for NULL.
    """
    columns = list(columns)
    if where_in is not None:
        column, values = where_in
        wanted = pd.Series(values).dropna().unique()
        if len(wanted) == 0:
            return _empty_frame(columns)
        if len(wanted) <= _MAX_KEYS_SENT:
            return _fetch_keys(connection, table, columns, column, list(wanted))
        everything = _fetch_all(connection, table, columns)
        return everything[is_in(everything[column], wanted)].reset_index(drop=True)
    return _fetch_all(connection, table, columns)


def _fetch_all(connection: Connection, table: sa.Table, columns: list[str]) -> pd.DataFrame:
    select = f"SELECT {_column_list(connection, columns)} FROM {_quote(connection, table.name)}"
    if is_postgres(connection):
        buffer = io.BytesIO()
        with (
            _driver_cursor(connection) as cursor,
            cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy,
        ):
            for data in copy:
                buffer.write(data)
        if buffer.tell() == 0:
            return _empty_frame(columns)
        buffer.seek(0)
        parsed = pa_csv.read_csv(
            buffer,
            read_options=pa_csv.ReadOptions(column_names=columns),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()),
                strings_can_be_null=True,  # CSV COPY writes NULL unquoted and '' quoted
                quoted_strings_can_be_null=False,
            ),
        )
        return parsed.to_pandas()
    parts = []
    with _driver_cursor(connection) as cursor:
        cursor.execute(select)
        while chunk := cursor.fetchmany(CHUNK_ROWS * 2):
            parts.append(_as_text(chunk, columns))
    return pd.concat(parts, ignore_index=True) if parts else _empty_frame(columns)


def _fetch_keys(
    connection: Connection, table: sa.Table, columns: list[str], column: str, keys: list
) -> pd.DataFrame:
    select = f"SELECT {_column_list(connection, columns)} FROM {_quote(connection, table.name)}"
    target = _quote(connection, column)
    found: list[tuple] = []
    with _driver_cursor(connection) as cursor:
        if is_postgres(connection):
            cursor.execute(f"{select} WHERE {target} = ANY(%s)", [keys])
            found = cursor.fetchall()
        else:
            for start in range(0, len(keys), _SQLITE_KEYS_PER_QUERY):
                batch = keys[start : start + _SQLITE_KEYS_PER_QUERY]
                marks = ", ".join("?" for _ in batch)
                cursor.execute(f"{select} WHERE {target} IN ({marks})", batch)
                found.extend(cursor.fetchall())
    return _as_text(found, columns) if found else _empty_frame(columns)


def _as_text(records: list[tuple], columns: list[str]) -> pd.DataFrame:
    """Rows from the driver as text columns: Arrow infers each column's type, then casts.

    Dates become ISO text and numbers their shortest decimal form, as a COPY would write them.
    """
    values_by_column = list(zip(*records, strict=True))
    arrays = []
    for values in values_by_column:
        array = pa.array(values, from_pandas=True)
        arrays.append(array if pa.types.is_string(array.type) else pc.cast(array, pa.string()))
    return pa.table(arrays, names=columns).to_pandas()


def _empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype="str") for name in columns})


def _update_postgres(
    connection: Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    key: Sequence[str],
    columns: Sequence[str],
    *,
    now: dt.datetime,
    on_rows: RowsWritten | None,
) -> None:
    staging_name = f"latepay_staging_{table.name}"
    staging = _quote(connection, staging_name)
    target = _quote(connection, table.name)
    column_list = _column_list(connection, [*columns, *key, "updated_at"])
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {staging} AS SELECT {column_list} FROM {target} WITH NO DATA"
    )
    _copy_in(connection, staging_name, frame, [*columns, *key], now=now, on_rows=on_rows)
    # Without statistics the planner would guess the staging table is tiny and loop over it;
    # with the default 4 MB of work memory, hashing a million keys would spill to disk.
    connection.exec_driver_sql(f"ANALYZE {staging}")
    connection.exec_driver_sql(f"SET LOCAL work_mem = '{_POSTGRES_WORK_MEM}'")
    assignments = ", ".join(
        f"{_quote(connection, name)} = staged.{_quote(connection, name)}"
        for name in [*columns, "updated_at"]
    )
    matches = " AND ".join(
        f"{target}.{_quote(connection, name)} = staged.{_quote(connection, name)}" for name in key
    )
    connection.exec_driver_sql(
        f"UPDATE {target} SET {assignments} FROM {staging} AS staged WHERE {matches}"
    )
    connection.exec_driver_sql(f"DROP TABLE {staging}")


def _in_key_order(table: sa.Table, frame: pd.DataFrame) -> pd.DataFrame:
    # In primary-key order, consecutive rows land on the same index and heap pages; in
    # PostgreSQL this halves the time of a large UPDATE ... FROM.
    return frame.sort_values([column.name for column in table.primary_key.columns])


def _copy_in(
    connection: Connection,
    table_name: str,
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    now: dt.datetime,
    on_rows: RowsWritten | None,
) -> None:
    """``COPY`` ``frame[columns]`` plus ``updated_at`` into a PostgreSQL table, as CSV.

    Arrow writes each chunk as CSV in native code (strings quoted, NULL as an unquoted
    empty field, as COPY's CSV format reads them), which keeps the formatting of a million
    rows off the critical path; ``write_row`` would format them one by one in Python.
    """
    names = _column_list(connection, [*columns, "updated_at"])
    statement = f"COPY {_quote(connection, table_name)} ({names}) FROM STDIN (FORMAT csv)"
    with _driver_cursor(connection) as cursor:
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            arrays = [_arrow_values(chunk[name]) for name in columns]
            arrays.append(pa.array(np.full(len(chunk), now.isoformat(), dtype=object)))
            text = io.BytesIO()
            pa_csv.write_csv(
                pa.table(arrays, names=[*columns, "updated_at"]),
                text,
                pa_csv.WriteOptions(include_header=False),
            )
            with cursor.copy(statement) as copy:
                copy.write(text.getbuffer())
            _report(on_rows, len(chunk))


def _arrow_values(series: pd.Series) -> pa.Array:
    if pd.api.types.is_datetime64_any_dtype(series):
        days = series.to_numpy().astype("datetime64[D]")
        return pa.array(days, type=pa.date32(), from_pandas=True)
    if isinstance(series.dtype, pd.StringDtype):
        return pa.array(series.array)
    return pa.array(series.to_numpy(dtype=object), from_pandas=True)


def _tuples(
    connection: Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    columns: Sequence[str],
    now: dt.datetime,
    *,
    now_at: int | None = None,
) -> Iterator[list[tuple]]:
    """Chunks of DBAPI-ready rows: ``frame[columns]`` with ``updated_at`` inserted at ``now_at``."""
    now_value = _updated_at_value(connection, table, now)
    position = len(columns) if now_at is None else now_at
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        values = [_python_values(chunk[name]) for name in columns]
        values.insert(position, [now_value] * len(chunk))
        yield list(zip(*values, strict=True))


def _python_values(series: pd.Series) -> list:
    if pd.api.types.is_datetime64_any_dtype(series):
        return canonical_arrow(series).to_pylist()
    present = series.notna().to_numpy()
    values = series.to_numpy(dtype=object)
    if not present.all():
        values = np.where(present, values, None)
    return values.tolist()


def _updated_at_value(connection: Connection, table: sa.Table, now: dt.datetime) -> object:
    # SQLite has no timestamp type: store the text SQLAlchemy itself would write, formatted
    # once here rather than by the driver for every row.
    column_type = table.c.updated_at.type.dialect_impl(connection.dialect)
    to_database = column_type.bind_processor(connection.dialect)
    return to_database(now) if to_database is not None else now


def _driver_cursor(connection: Connection) -> closing:
    """The driver's own cursor, in the connection's transaction (sqlite3 cursors lack ``with``)."""
    return closing(connection.connection.driver_connection.cursor())


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _column_list(connection: Connection, names: Sequence[str]) -> str:
    return ", ".join(_quote(connection, name) for name in names)


def _report(on_rows: RowsWritten | None, rows: int) -> None:
    if on_rows is not None:
        on_rows(rows)
