"""Event streams with cumulative sums: "what had happened to this customer before moment t?".

Each event has a group (a customer, or an economic series), a day and values. Events are sorted
by ``(group, day)`` into one array with a running total per value. For a query ``(group, t)``
one binary search finds how many of the group's events fall strictly before ``t``; totals over
any window ``[a, t)`` are the difference of two running totals. This is how every history
feature is computed for millions of invoices without a loop per invoice, and strict ``<`` is
what keeps them free of the future.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Days are counted from this date so that keys stay positive; the shift leaves room for
# ~5,700 years of days per group inside one int64 key.
_EPOCH = np.datetime64("1900-01-01", "D")
_DAY_BITS = 21
MONEY_UNITS_PER_AMOUNT = 10_000
# Up to this many ids are looked up one by one: an indexer costs ~0.1 ms however few ids it
# is asked for, fifteen times one lookup, and a scoring group at issuance asks for a few.
_FEW_IDS = 16


def day_numbers(days: pd.Series | np.ndarray) -> np.ndarray:
    """Whole days since 1900-01-01 as int64; NaT becomes the largest possible day."""
    values = np.asarray(days, dtype="datetime64[D]")
    numbers = (values - _EPOCH).astype(np.int64)
    numbers[np.isnat(values)] = (1 << _DAY_BITS) - 1
    return numbers


def money_units(amounts: pd.Series | np.ndarray) -> np.ndarray:
    """Amounts as whole ten-thousandths (the database keeps four decimals), for exact sums."""
    return np.round(np.asarray(amounts, dtype=float) * MONEY_UNITS_PER_AMOUNT).astype(np.int64)


def _whole_numbers(name: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind not in "iub":
        raise TypeError(f"event value {name!r} must be whole numbers, got dtype {values.dtype}")
    return values.astype(np.int64)


class GroupCodes:
    """Dense integer codes for group ids (customers), shared by every stream of one build."""

    def __init__(self, *id_columns: pd.Series) -> None:
        ids = pd.unique(pd.concat([pd.Series(c, dtype=object) for c in id_columns]))
        self._index = pd.Index(ids)

    @property
    def size(self) -> int:
        return len(self._index)

    @property
    def ids(self) -> pd.Index:
        """The ids, in the order of their codes."""
        return self._index

    def encode(self, ids: pd.Series | np.ndarray) -> np.ndarray:
        codes = self.lookup(ids)
        if (codes < 0).any():
            raise KeyError("ids outside the ones these codes were prepared for")
        return codes

    def lookup(self, ids: pd.Series | np.ndarray) -> np.ndarray:
        """Codes of ``ids``, -1 for an id without one.

        A stream has no events of group -1 (its keys sort before every real one), so a query
        about a group never seen is answered as one without history.
        """
        if len(ids) <= _FEW_IDS:
            return np.array([self._code(i) for i in ids], dtype=np.int64)
        return self._index.get_indexer(np.asarray(ids, dtype=object)).astype(np.int64)

    def _code(self, group_id: object) -> int:
        try:
            return self._index.get_loc(group_id)
        except KeyError:
            return -1


class EventStream:
    """Events of many groups, answering sums and last-event questions before a moment.

    Parameters
    ----------
    groups : ndarray of int64
        Each event's group, from :class:`GroupCodes`.
    days : ndarray of int64
        Each event's day, from :func:`day_numbers`. Events at the NaT day never count.
    values : dict of str to ndarray
        Named whole-number values to total (an implicit ``count`` of 1 per event is added).
        Totals are kept in int64 so that they are exact: a customer's features do not depend
        on which other customers share the stream (a Dask partition gives the same numbers as
        the whole ledger). Money goes in as :func:`money_units`.
    """

    def __init__(
        self,
        groups: np.ndarray,
        days: np.ndarray,
        values: dict[str, np.ndarray] | None = None,
    ) -> None:
        keys = (groups << _DAY_BITS) | days
        order = np.argsort(keys, kind="stable")
        self._order = order
        self._keys = keys[order]
        self._days = days[order]
        columns = {"count": np.ones(len(keys), dtype=np.int64)}
        columns.update({name: _whole_numbers(name, v) for name, v in (values or {}).items()})
        # A leading zero makes "total before position i" simply cumulative[i].
        self._totals = {
            name: np.concatenate([[0], np.cumsum(column[order])])
            for name, column in columns.items()
        }

    def _position(self, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Number of events (of all groups sorted before) strictly before (group, day)."""
        return np.searchsorted(self._keys, (groups << _DAY_BITS) | days, side="left")

    def total_before(self, name: str, groups: np.ndarray, moments: np.ndarray) -> np.ndarray:
        """Total of ``name`` over each group's events on days strictly before the moment."""
        start = self._position(groups, np.zeros_like(moments))
        end = self._position(groups, moments)
        totals = self._totals[name]
        return totals[end] - totals[start]

    def total_between(
        self, name: str, groups: np.ndarray, moments: np.ndarray, days_back: int
    ) -> np.ndarray:
        """Total of ``name`` over events in the window ``[moment - days_back, moment)``."""
        start = self._position(groups, np.maximum(moments - days_back, 0))
        end = self._position(groups, moments)
        totals = self._totals[name]
        return totals[end] - totals[start]

    def total_of_last(
        self, name: str, groups: np.ndarray, moments: np.ndarray, events: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Total of ``name`` over each group's last ``events`` events before the moment, and
        how many events that was (fewer when the group has fewer)."""
        start = self._position(groups, np.zeros_like(moments))
        end = self._position(groups, moments)
        first = np.maximum(end - events, start)
        totals = self._totals[name]
        return totals[end] - totals[first], end - first

    def last_event_before(self, groups: np.ndarray, moments: np.ndarray) -> np.ndarray:
        """Row number (in the arrays given to the constructor) of each group's last event
        strictly before the moment; -1 where there is none."""
        start = self._position(groups, np.zeros_like(moments))
        end = self._position(groups, moments)
        has_event = end > start
        last = np.full(len(moments), -1, dtype=np.int64)
        last[has_event] = self._order[end[has_event] - 1]
        return last

    def last_day_before(self, groups: np.ndarray, moments: np.ndarray) -> np.ndarray:
        """Day of each group's last event strictly before the moment; -1 where none."""
        start = self._position(groups, np.zeros_like(moments))
        end = self._position(groups, moments)
        has_event = end > start
        last = np.full(len(moments), -1, dtype=np.int64)
        last[has_event] = self._days[end[has_event] - 1]
        return last
