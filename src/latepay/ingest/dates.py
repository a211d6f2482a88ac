"""Reading date columns: a declared strptime format, or one inferred for the whole column.

Inference tries every candidate format on the column's distinct values:

- ISO ``%Y-%m-%d``, ``%m/%d/%Y``, ``%d/%m/%Y``, ``%d.%m.%Y`` and ``%Y%m%d`` (also written as a
  number, ``20200210.0``); periods also accept ``%Y-%m`` (the first day of that month);
- a time of day after the date (``2020-02-10 13:45:00``, ``2020-02-10T13:45:00Z``,
  ``2/10/2020 1:45 PM``) is allowed and dropped: only the date is kept.

The format that parses every non-empty value wins. Two formats that both parse everything
(``%m/%d/%Y`` and ``%d/%m/%Y`` when no day exceeds 12) make the column ambiguous: that is an
:class:`~latepay.errors.InputError` asking for ``date_formats``, never a guess. When no format
parses everything, the one parsing the most rows is used and the rest are row errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from latepay.errors import InputError


@dataclass(frozen=True)
class _Candidate:
    strptime: str
    shape: str  # a regular expression every value in this format matches


_DATE_CANDIDATES = (
    _Candidate("%Y-%m-%d", r"\d{4}-\d{1,2}-\d{1,2}"),
    _Candidate("%m/%d/%Y", r"\d{1,2}/\d{1,2}/\d{4}"),
    _Candidate("%d/%m/%Y", r"\d{1,2}/\d{1,2}/\d{4}"),
    _Candidate("%d.%m.%Y", r"\d{1,2}\.\d{1,2}\.\d{4}"),
    _Candidate("%Y%m%d", r"\d{8}"),
)
_MONTH_CANDIDATE = _Candidate("%Y-%m", r"\d{4}-\d{1,2}")

# A time of day after the date: kept out of the date part, which is all we store.
_TIME_SUFFIX = re.compile(
    r"^(\S+?)(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_NUMBER_SUFFIX = r"^(\d{8})\.0+$"  # 20200210.0: a date that went through a float column
_TIME_DIRECTIVES = re.compile(r"%[HIMSfpzZXcT]")


@dataclass(frozen=True)
class ParsedDates:
    """A date column: its values, the rows it could not read, and the format used.

    Attributes
    ----------
    values
        ``datetime64[s]`` dates at midnight; NaT where empty or unreadable.
    invalid
        True where a non-empty value could not be read.
    date_format
        The strptime format used (declared or inferred); None when no value could be read.
    """

    values: pd.Series
    invalid: pd.Series
    date_format: str | None

    def reason(self) -> str:
        """Why an invalid value of this column was rejected."""
        if self.date_format is None:
            return "not a date (e.g. 2024-03-31, 3/31/2024, 31.03.2024)"
        return f"not a date in format {self.date_format}"


def parse_dates(
    text: pd.Series,
    *,
    declared_format: str | None,
    allow_month: bool,
    file_name: str,
    column: str,
    canonical: str,
) -> ParsedDates:
    """Read a column of dates.

    Parameters
    ----------
    text
        The column's text, whitespace stripped, ``""`` for empty.
    declared_format
        The mapping's ``date_formats`` entry for this column, if any.
    allow_month
        Also accept ``YYYY-MM`` (economic indicator periods).
    file_name, column, canonical
        Where the column comes from, for the ambiguity message.

    Raises
    ------
    InputError
        When two formats read the column equally well (day/month order unknown).
    """
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype="str")
    rows_per_value = np.bincount(codes, minlength=len(uniques))
    empty = (distinct == "").to_numpy()

    if declared_format is not None:
        keeps_time = bool(_TIME_DIRECTIVES.search(declared_format))
        prepared = distinct if keeps_time else _date_part(distinct)
        parsed = _to_dates(prepared, declared_format)
        chosen_format: str | None = declared_format
    else:
        prepared = _date_part(distinct)
        candidates = (*_DATE_CANDIDATES, _MONTH_CANDIDATE) if allow_month else _DATE_CANDIDATES
        attempts = {
            c.strptime: _to_dates(prepared.where(prepared.str.fullmatch(c.shape), ""), c.strptime)
            for c in candidates
        }
        rows_read = {
            fmt: int(rows_per_value[dates.notna().to_numpy()].sum())
            for fmt, dates in attempts.items()
        }
        best = max(rows_read.values())
        winners = [fmt for fmt, count in rows_read.items() if count == best]
        if best and len(winners) > 1:
            raise InputError(
                f"{file_name}: the dates in column {column} read equally well as "
                f"{' and as '.join(winners)} (no day is above 12); declare the format in the "
                f'mapping: date_formats: {{{canonical}: "{winners[-1]}"}} (or "{winners[0]}")'
            )
        chosen_format = winners[0] if best else None
        parsed = attempts[winners[0]]

    invalid_distinct = parsed.isna().to_numpy() & ~empty
    return ParsedDates(
        values=pd.Series(parsed.to_numpy().take(codes), index=text.index),
        invalid=pd.Series(invalid_distinct.take(codes), index=text.index),
        date_format=chosen_format,
    )


def _date_part(distinct: pd.Series) -> pd.Series:
    without_time = distinct.str.replace(_TIME_SUFFIX.pattern, r"\1", regex=True)
    return without_time.str.replace(_NUMBER_SUFFIX, r"\1", regex=True)


def _to_dates(text: pd.Series, date_format: str) -> pd.Series:
    dates = pd.to_datetime(text.where(text != ""), format=date_format, errors="coerce")
    return dates.astype("datetime64[s]").dt.normalize()
