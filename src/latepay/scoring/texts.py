"""Scores written as text in bulk: floats as Python writes them, rows as pandas writes CSV.

A million scores formatted value by value took a quarter of ``latepay score``'s minute: pandas'
``to_csv`` and ``repr`` format each float in turn. Arrow formats a column at once, to the
same shortest digits that read back as the same float; only its notation differs from
Python's: whole numbers (``1`` against ``1.0``), and where each turns to scientific notation
(Python below 1e-4 and from 1e16, Arrow below about 1e-9 and from 1e10). Values outside the
range where the two agree are formatted as pandas formats them, so every text is exactly the
one the slow way wrote.
"""

from __future__ import annotations

import csv
import io
from typing import TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Floats whose magnitude lies in [_PLAIN_FROM, _PLAIN_BELOW) and that are not whole numbers
# are written alike by Arrow and Python (checked in the tests across sixty decades).
_PLAIN_FROM = 1e-4
_PLAIN_BELOW = 1e9
# A field holding one of these may need quotes; Python's csv module decides (it quotes a
# line feed but, with pandas' "\n" line terminator, not a lone carriage return).
_MAY_NEED_QUOTES = '[,"\r\n]'


def float_texts(values: np.ndarray) -> pa.StringArray:
    """``repr`` of each float (what ``str(numpy.float64)`` also gives); null for NaN."""
    values = np.asarray(values, dtype=np.float64)
    texts = pc.cast(pa.array(values, from_pandas=True), pa.string())
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        plain = (magnitude >= _PLAIN_FROM) & (magnitude < _PLAIN_BELOW)
        plain &= values != np.trunc(values)
    other = ~plain & ~np.isnan(values)
    if not other.any():
        return texts
    return pc.replace_with_mask(texts, pa.array(other), pa.array(values[other].astype(str)))


def write_csv(frame: pd.DataFrame, stream: TextIO, *, header: bool = True) -> None:
    """Write ``frame`` as ``frame.to_csv(stream, index=False, header=header)`` would.

    Its columns must hold floats or text (missing values as None or NaN, written empty).
    """
    writer = _pandas_csv_writer(stream)
    if header:
        writer.writerow([str(name) for name in frame.columns])
    if not len(frame):
        return
    fields = [_csv_fields(frame[name]) for name in frame.columns]
    lines = pc.binary_join_element_wise(*fields, ",", null_handling="replace", null_replacement="")
    stream.write("\n".join(lines.to_pylist()))
    stream.write("\n")


def _csv_fields(column: pd.Series) -> pa.StringArray:
    if pd.api.types.is_float_dtype(column.dtype):
        return float_texts(column.to_numpy(dtype=np.float64, na_value=np.nan))
    if not (pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column)):
        raise TypeError(f"column {column.name!r} holds {column.dtype}, not floats or text")
    texts = pa.array(column.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    special = pc.fill_null(pc.match_substring_regex(texts, _MAY_NEED_QUOTES), False)
    if not pc.any(special).as_py():
        return texts
    mask = special.to_numpy(zero_copy_only=False)
    quoted = [_csv_field(text) for text in pc.filter(texts, special).to_pylist()]
    return pc.replace_with_mask(texts, pa.array(mask), pa.array(quoted, type=pa.string()))


def _csv_field(text: str) -> str:
    line = io.StringIO()
    _pandas_csv_writer(line).writerow([text])
    return line.getvalue()[:-1]


def _pandas_csv_writer(stream: TextIO):
    """The csv writer pandas' ``to_csv`` writes with by default."""
    return csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
