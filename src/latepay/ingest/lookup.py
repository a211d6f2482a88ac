"""Membership and position of text keys among millions of others, done by Arrow.

pandas' ``isin`` on Arrow-backed text converts every allowed value to a Python object one at a
time, and ``map``/``reindex`` by a text index build a Python hash table; for a million ids both
take seconds. Arrow's ``is_in``/``index_in`` do the same in native code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def is_in(text: pd.Series | pd.Index, allowed: object) -> np.ndarray:
    """``text.isin(allowed)`` for text: a boolean array, False for missing values."""
    if len(text) == 0:
        return np.zeros(0, dtype=bool)
    found = pc.is_in(_arrow_text(text), value_set=_arrow_text(allowed))
    return found.to_numpy(zero_copy_only=False)


def positions(text: pd.Series | pd.Index, keys: object) -> np.ndarray:
    """Position in ``keys`` of each value of ``text`` (its first occurrence), or -1 if absent.

    Examples
    --------
    >>> positions(pd.Series(["b", "z", "a"]), pd.Series(["a", "b"])).tolist()
    [1, -1, 0]
    """
    if len(text) == 0:
        return np.zeros(0, dtype=np.int64)
    found = pc.index_in(_arrow_text(text), value_set=_arrow_text(keys))
    return pc.fill_null(found, -1).to_numpy().astype(np.int64)


def lookup(text: pd.Series, keys: pd.Series, values: pd.Series) -> pd.Series:
    """For each value of ``text``, the entry of ``values`` at its key in ``keys`` (or missing).

    ``keys`` and ``values`` are aligned by position; the result has ``text``'s index.
    """
    by_position = values.reset_index(drop=True)  # position -1 then reads as missing
    return by_position.reindex(positions(text, keys)).set_axis(text.index)


def _arrow_text(values: object) -> pa.Array:
    if isinstance(values, pd.Series | pd.Index) and isinstance(values.dtype, pd.StringDtype):
        return pa.array(values.array, type=pa.large_string())
    return pa.array(np.asarray(values, dtype=object), type=pa.large_string(), from_pandas=True)
