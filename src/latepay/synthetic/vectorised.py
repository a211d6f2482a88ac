"""Small vectorised building blocks used across the generator modules."""

from functools import reduce

import numpy as np

# Owners and days are packed into one sortable int64 key; days stay far below 2**32.
_OWNER_STRIDE = np.int64(1) << np.int64(32)


def draw_categorical(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Draw one category code per row of a probability matrix.

    Parameters
    ----------
    rng
        Random generator to draw from.
    probabilities
        Array of shape ``(n, k)`` whose rows sum to one.

    Returns
    -------
    numpy.ndarray
        ``n`` integer codes in ``[0, k)``.
    """
    cumulative = np.cumsum(probabilities, axis=1)
    uniforms = rng.random(probabilities.shape[0])
    return (uniforms[:, None] >= cumulative[:, :-1]).sum(axis=1)


def concat_strings(*parts: np.ndarray | str) -> np.ndarray:
    """Concatenate string arrays (or scalars) element-wise."""
    return reduce(np.strings.add, parts)


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Format integers as zero-padded identifiers such as ``INV0000042``.

    Numbers with more than ``width`` digits keep all their digits, so identifiers
    stay unique when a ledger outgrows the nominal width.
    """
    return concat_strings(prefix, np.strings.zfill(np.asarray(numbers).astype(np.str_), width))


def count_events_in_window(
    event_owner: np.ndarray,
    event_day: np.ndarray,
    query_owner: np.ndarray,
    query_day: np.ndarray,
    window_days: int,
) -> np.ndarray:
    """Count each owner's events in the window ``[query_day - window_days, query_day)``.

    Parameters
    ----------
    event_owner, event_day
        Owner index and day number of every event.
    query_owner, query_day
        Owner index and day number of every query.
    window_days
        Length of the look-back window in days; the query day itself is excluded
        so an event on the same day is not yet known.

    Returns
    -------
    numpy.ndarray
        Number of matching events per query.
    """
    event_keys = np.sort(event_owner.astype(np.int64) * _OWNER_STRIDE + event_day)
    query_keys = query_owner.astype(np.int64) * _OWNER_STRIDE + query_day
    before_window = np.searchsorted(event_keys, query_keys - window_days, side="left")
    before_query = np.searchsorted(event_keys, query_keys, side="left")
    return before_query - before_window
