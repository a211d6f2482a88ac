"""Normalising the text of one source column into canonical values (everything but dates).

Each parser takes the column's text with whitespace already stripped (``""`` = empty) and
returns a :class:`ParsedColumn`: the values, missing where empty or invalid, and a reason for
every invalid value. Plain numbers are read in one vectorised pass; anything needing rules is
worked out once per distinct value, so a million rows holding a few thousand distinct values
cost a few thousand parses.

Numbers: a decimal point is the default; a column is read with a decimal comma only when its
values show it (``12,50``, ``1.234,50``) and none shows a decimal point (``12.50``,
``1,234.50``). A column showing both is not guessed at: the values written in its minority
style are rejected. ``1,234`` alone is ambiguous (1234 or 1.234) and is rejected unless the
column's other values settle the style.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TRUE = frozenset({"yes", "y", "true", "t", "1"})
_FALSE = frozenset({"no", "n", "false", "f", "0"})
_LARGEST_AMOUNT = 1e14  # NUMERIC(18, 4) holds 14 digits before the decimal point

_PLAIN = r"^[+-]?(?:\d+\.?\d*|\.\d+)$"  # no separators: one reading only
_INTEGER = r"[+-]?\d+"
# One separator followed by exactly three digits: a thousands group or three decimals?
_AMBIGUOUS = r"[+-]?[1-9]\d{0,2}[.,]\d{3}"
_POINT_DECIMAL = r"[+-]?(?:\d+\.\d*|\.\d+)|[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"
_COMMA_DECIMAL = r"[+-]?(?:\d+,\d*|,\d+)|[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?"


@dataclass(frozen=True)
class ParsedColumn:
    """Canonical values of one column and why any of them was rejected.

    Attributes
    ----------
    values
        Parsed values on the input's index; missing (NaN/NA) where empty or invalid.
    reasons
        Text (object dtype) on the same index: ``""`` where the value is fine or empty,
        else the reason.
    """

    values: pd.Series
    reasons: pd.Series

    @property
    def invalid(self) -> pd.Series:
        """True where the value was rejected."""
        return self.reasons != ""


def parse_text(text: pd.Series, *, max_length: int | None, lowercase: bool = False) -> ParsedColumn:
    """Text as given (or lower-cased); empty is missing; longer than the column is invalid."""
    values = text.str.lower() if lowercase else text
    values = values.where(values != "")
    reasons = no_reasons(text)
    if max_length is not None:
        too_long = values.str.len() > max_length
        reasons = reasons.mask(too_long, f"longer than {max_length} characters")
        values = values.mask(too_long)
    return ParsedColumn(values, reasons)


def parse_currency(text: pd.Series) -> ParsedColumn:
    """ISO 4217 codes, upper-cased: ``eur`` → ``EUR``."""
    values = text.str.upper().where(text != "")
    invalid = values.notna() & ~values.str.fullmatch(r"[A-Z]{3}").fillna(False)
    reasons = no_reasons(text).mask(invalid, "not a three-letter ISO 4217 currency code")
    return ParsedColumn(values.mask(invalid), reasons)


def parse_boolean(text: pd.Series) -> ParsedColumn:
    """yes/no, y/n, true/false, t/f, 1/0 in any letter case."""

    def parse(uniques: pd.Series) -> tuple[pd.Series, pd.Series]:
        lowered = uniques.str.lower()
        values = pd.Series(pd.NA, index=uniques.index, dtype="boolean")
        values[lowered.isin(_TRUE)] = True
        values[lowered.isin(_FALSE)] = False
        invalid = values.isna() & (uniques != "")
        reasons = no_reasons(uniques).mask(
            invalid, "not a yes/no value (yes, no, true, false, 1, 0)"
        )
        return values, reasons

    return _parse_distinct(text, parse)


def parse_number(text: pd.Series, *, amount: bool) -> ParsedColumn:
    """Decimal numbers, with thousands separators and a decimal comma where unambiguous.

    Parameters
    ----------
    text
        Stripped text of the column.
    amount
        Money: also rejects values too large for the database's NUMERIC(18, 4).

    Returns
    -------
    ParsedColumn
        Floats (NaN where empty or rejected) and the reasons for rejected values.

    Examples
    --------
    >>> parse_number(pd.Series(["1,234.50", "12.5", ""]), amount=True).values.tolist()
    [1234.5, 12.5, nan]
    """
    plain = _parse_plain_numbers(text, amount=amount)
    if plain is not None:
        return plain

    def parse(uniques: pd.Series, counts: np.ndarray) -> tuple[pd.Series, pd.Series]:
        return _parse_numbers(uniques, counts, amount=amount)

    return _parse_distinct(text, parse, with_counts=True)


def parse_days(text: pd.Series) -> ParsedColumn:
    """A whole, non-negative number of days (``30`` or ``30.0``)."""
    numbers = parse_number(text, amount=False)
    whole = numbers.values.notna() & (numbers.values % 1 == 0) & (numbers.values >= 0)
    invalid = numbers.values.notna() & ~whole
    reasons = numbers.reasons.mask(invalid, "not a whole, non-negative number of days")
    return ParsedColumn(numbers.values.where(whole).astype("Int64"), reasons)


def no_reasons(like: pd.Series) -> pd.Series:
    """A reason column saying "nothing wrong" for every row of ``like``."""
    # Object dtype: filling a million-row Arrow text column with "" is needlessly slow.
    return pd.Series(np.full(len(like), "", dtype=object), index=like.index, dtype=object)


def _parse_distinct(
    text: pd.Series, parse: Callable[..., tuple[pd.Series, pd.Series]], *, with_counts: bool = False
) -> ParsedColumn:
    """Apply ``parse`` to the distinct values of ``text`` and spread the results back."""
    codes, uniques = pd.factorize(text)
    unique_series = pd.Series(uniques, dtype="str")
    if with_counts:
        values, reasons = parse(unique_series, np.bincount(codes, minlength=len(uniques)))
    else:
        values, reasons = parse(unique_series)
    return ParsedColumn(
        values=pd.Series(values.array.take(codes), index=text.index),
        reasons=pd.Series(reasons.array.take(codes), index=text.index),
    )


def _parse_plain_numbers(text: pd.Series, *, amount: bool) -> ParsedColumn | None:
    """The common case in one pass: every value is empty or a plain ``-1234.5``.

    Returns None when any value needs the general rules (separators, errors, huge amounts).
    """
    arrow = pa.array(text.array, type=pa.large_string())
    empty = pc.equal(arrow, "")
    plain = pc.or_(empty, pc.match_substring_regex(arrow, _PLAIN))
    if not pc.all(plain).as_py():
        return None
    numbers = pc.cast(pc.if_else(empty, None, arrow), pa.float64()).to_numpy(zero_copy_only=False)
    if amount and np.any(np.abs(numbers) >= _LARGEST_AMOUNT):
        return None
    return ParsedColumn(pd.Series(numbers, index=text.index), no_reasons(text))


def _parse_numbers(
    uniques: pd.Series, counts: np.ndarray, *, amount: bool
) -> tuple[pd.Series, pd.Series]:
    integer = uniques.str.fullmatch(_INTEGER)
    ambiguous = ~integer & uniques.str.fullmatch(_AMBIGUOUS)
    point = ~integer & ~ambiguous & uniques.str.fullmatch(_POINT_DECIMAL)
    comma = ~integer & ~ambiguous & ~point & uniques.str.fullmatch(_COMMA_DECIMAL)
    reasons = no_reasons(uniques)
    reasons[(uniques != "") & ~(integer | ambiguous | point | comma)] = "not a number"

    point_rows, comma_rows = counts[point.to_numpy()].sum(), counts[comma.to_numpy()].sum()
    decimal_comma = comma_rows > point_rows
    if point_rows and comma_rows:
        minority, majority = (point, comma) if decimal_comma else (comma, point)
        example = uniques[majority].iloc[0]
        style = "a decimal point" if decimal_comma else "a decimal comma"
        reasons[minority] = (
            f"written with {style}, unlike most of this column (e.g. {example!r}); "
            "export the column in one number style"
        )
    elif not point_rows and not comma_rows:
        # Nothing settles the style: '1.234' is read the standard way, '1,234' is a guess.
        comma_ambiguous = ambiguous & uniques.str.contains(",", regex=False)
        reasons[comma_ambiguous] = (
            "ambiguous: ',' may separate thousands or decimals; write it without a "
            "thousands separator (1234) or with a decimal point (1.234)"
        )

    if decimal_comma:
        normalised = uniques.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        normalised = uniques.str.replace(",", "", regex=False)
    values = pd.to_numeric(normalised.where(reasons == ""), errors="coerce").astype("float64")
    if amount:
        too_large = values.abs() >= _LARGEST_AMOUNT
        reasons[too_large] = "too large for an amount (at most 14 digits before the decimals)"
        values = values.mask(too_large)
    return values.where(reasons == ""), reasons
