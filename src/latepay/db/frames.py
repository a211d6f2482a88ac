"""Reading query results into DataFrames quickly.

SQLAlchemy turns each stored date into a ``datetime.date`` in Python, value by value (SQLite
keeps dates as text), and pandas then probes every row object it is given: for the hundred
thousand rows of a dashboard or planning query that is seconds. :func:`read_frame` fetches
date and datetime columns as they are stored and converts them in one vectorised step, and
hands pandas plain tuples.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Select


def read_frame(connection: Connection, query: Select) -> pd.DataFrame:
    """The rows of ``query``, with date and datetime columns as ``datetime64`` (UTC moments
    without their zone), missing values as NaT."""
    moments = {
        column.name
        for column in query.selected_columns
        if isinstance(column.type, sa.Date | sa.DateTime)
    }
    plain = query.with_only_columns(
        *(
            sa.type_coerce(column, sa.String).label(column.name)
            if column.name in moments
            else column
            for column in query.selected_columns
        ),
        maintain_column_froms=True,
    )
    result = connection.execute(plain)
    frame = pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))
    for name in moments:
        frame[name] = _as_moments(frame[name])
    return frame


def read_unconverted(connection: Connection, query: Select) -> pd.DataFrame:
    """The rows of ``query`` as ``pandas.read_sql`` gives them.

    When SQLAlchemy would convert none of the selected columns (on SQLite, text, integer and
    float columns come back as the driver gives them), the rows come straight from the
    driver's cursor: SQLAlchemy's row objects would only add their cost, a quarter of reading
    a million invoices.
    """
    dialect = connection.dialect
    if dialect.name != "sqlite" or any(
        column.type.dialect_impl(dialect).result_processor(dialect, None) is not None
        for column in query.selected_columns
    ):
        return pd.read_sql(query, connection)
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    parameters = [compiled.params[name] for name in compiled.positiontup]
    return pd.read_sql(str(compiled), connection.connection.driver_connection, params=parameters)


def _as_moments(values: pd.Series) -> pd.Series:
    # SQLite gives ISO text; PostgreSQL's driver gives date or datetime objects (aware ones in
    # the session's zone).
    moments = pd.to_datetime(values, utc=True, format="ISO8601")
    return moments.dt.tz_localize(None)
