"""Row fingerprints (``row_hash``) and derived ids, stable across processes and machines.

A fingerprint is the MD5 (32 hex digits, the width of ``row_hash``) of the row's canonical
values written as ``name=value`` pairs joined by ``\\x1f``, in a fixed column order. Missing
values are left out, so the fingerprint depends only on what the row says: a mapping that
gains a column that is empty everywhere does not make every row look changed. Values are
written canonically (dates ISO, numbers rounded to the database's 4 decimals in their shortest
form, booleans 1/0), so ``1,234.50`` and ``1234.5`` in a later export are the same row. MD5 is
used as a fingerprint, not for security.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FIELD_SEPARATOR = "\x1f"  # ASCII unit separator: cannot be confused with text in a value
_HASH_SLICE_ROWS = 100_000


def canonical_text(values: pd.Series) -> pd.Series:
    """``values`` written the way fingerprints and the database see them; missing stays NaN.

    Examples
    --------
    >>> canonical_text(pd.Series([1234.5, 0.1 + 0.2, None])).tolist()
    ['1234.5', '0.3', nan]
    """
    return pd.Series(canonical_arrow(values).to_pandas().array, index=values.index)


def canonical_arrow(values: pd.Series) -> pa.Array:
    """Like :func:`canonical_text`, as an Arrow string array (nulls for missing values)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        days = values.to_numpy().astype("datetime64[D]")
        return pc.cast(pa.array(days, type=pa.date32(), from_pandas=True), pa.string())
    if pd.api.types.is_bool_dtype(values):
        flags = pa.array(values, type=pa.bool_(), from_pandas=True)
        return pc.if_else(flags, "1", "0")
    if pd.api.types.is_float_dtype(values):
        # Adding 0.0 turns -0.0 into 0.0: both are the same amount.
        rounded = np.round(values.to_numpy(dtype=np.float64), 4) + 0.0
        return pc.cast(pa.array(rounded, from_pandas=True), pa.string())
    if pd.api.types.is_integer_dtype(values):
        return pc.cast(pa.array(values, from_pandas=True), pa.string())
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return pa.array(values.array, type=pa.string())  # already Arrow: no conversion
    return pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)


def fingerprints(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """The fingerprint of each row of ``frame`` over ``columns`` (see the module docstring).

    Parameters
    ----------
    frame
        Canonical values, one column per field.
    columns
        The fields to include, in the order they are written.

    Returns
    -------
    pandas.Series
        32-character lower-case hex strings on ``frame``'s index.
    """
    pairs = [
        pc.binary_join_element_wise(name, canonical_arrow(frame[name]), "=") for name in columns
    ]
    joined = pc.binary_join_element_wise(*pairs, FIELD_SEPARATOR, null_handling="skip")
    digests: list[str] = []
    # In slices, so the Python strings of a million joined rows never exist all at once.
    for start in range(0, len(joined), _HASH_SLICE_ROWS):
        digests.extend(
            hashlib.md5(row.encode("utf-8"), usedforsecurity=False).hexdigest()
            for row in joined.slice(start, _HASH_SLICE_ROWS).to_pylist()
        )
    return pd.Series(pa.array(digests, type=pa.string()).to_pandas().array, index=frame.index)


def derived_ids(prefix: str, frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """Ids for rows whose export has none: a fingerprint of ``columns`` and an occurrence count.

    Identical rows (two equal payments on one day) are told apart by their occurrence index
    among identical rows, so the ids do not depend on where other rows sit in the file.
    """
    keyed = frame[list(columns)].copy()
    keyed["occurrence"] = keyed.groupby(list(columns), dropna=False, sort=False).cumcount()
    return prefix + fingerprints(keyed, [*columns, "occurrence"])
