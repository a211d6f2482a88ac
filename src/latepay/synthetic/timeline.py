"""Monthly grid of the simulated period and day-level sampling.

Dates travel through the generator as int64 day numbers (days since
1970-01-01) so date arithmetic stays vectorised; they become ``datetime64[D]``
only when tables are written.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np

# An invoice issued in the last days of a month counts as month-end issuance.
MONTH_END_DAYS = 3
QUARTER_END_MONTHS = (3, 6, 9, 12)

# Sentinels: NOT_A_DAY converts to NaT, NEVER sorts after every real day.
NOT_A_DAY = np.iinfo(np.int64).min
NEVER = np.iinfo(np.int64).max


def weekday(days: np.ndarray) -> np.ndarray:
    """Return the weekday of day numbers, Monday = 0 (1970-01-01 was a Thursday)."""
    return (days + 3) % 7


def to_datetime64(days: np.ndarray) -> np.ndarray:
    """Convert day numbers to ``datetime64[D]``; ``NOT_A_DAY`` becomes NaT."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]")


@dataclass(frozen=True)
class MonthGrid:
    """The calendar months of the simulated period.

    Attributes
    ----------
    month_starts
        Day numbers of the first day of each month plus the exclusive end of the
        period, so it has ``months + 1`` entries.
    """

    month_starts: np.ndarray

    @classmethod
    def from_start(cls, start: date, months: int) -> "MonthGrid":
        """Build the grid of ``months`` calendar months beginning at ``start``.

        Raises
        ------
        ValueError
            If ``start`` is not the first day of a month or ``months`` < 1.
        """
        if start.day != 1:
            raise ValueError(f"start must be the first day of a month, got {start}")
        if months < 1:
            raise ValueError(f"months must be at least 1, got {months}")
        first_month = np.datetime64(start, "M")
        boundaries = first_month + np.arange(months + 1)
        return cls(boundaries.astype("datetime64[D]").astype(np.int64))

    @property
    def months(self) -> int:
        return len(self.month_starts) - 1

    @property
    def first_day(self) -> int:
        return int(self.month_starts[0])

    @property
    def as_of(self) -> int:
        """Last day of the period: the generator's "today"."""
        return int(self.month_starts[-1]) - 1

    @property
    def calendar_months(self) -> np.ndarray:
        """Calendar month (1-12) of every month in the grid."""
        months64 = self.month_starts[:-1].astype("datetime64[D]").astype("datetime64[M]")
        return months64.astype(np.int64) % 12 + 1

    def period_labels(self) -> np.ndarray:
        """``YYYY-MM`` label of every month in the grid."""
        months64 = self.month_starts[:-1].astype("datetime64[D]").astype("datetime64[M]")
        return np.datetime_as_string(months64, unit="M")

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Index of the grid month containing each day number."""
        return np.searchsorted(self.month_starts, days, side="right") - 1

    def is_month_end(self, days: np.ndarray, month: np.ndarray) -> np.ndarray:
        """Whether each day falls in the last ``MONTH_END_DAYS`` days of its month."""
        return days >= self.month_starts[month + 1] - MONTH_END_DAYS

    def is_quarter_end(self, days: np.ndarray, month: np.ndarray) -> np.ndarray:
        """Whether each day is month-end issuance in the last month of a quarter."""
        closes_quarter = np.isin(self.calendar_months[month], QUARTER_END_MONTHS)
        return closes_quarter & self.is_month_end(days, month)

    def sample_days(
        self,
        rng: np.random.Generator,
        month: np.ndarray,
        *,
        weekend_weight: float,
        month_end_weight: float = 1.0,
    ) -> np.ndarray:
        """Draw a day within the given month for every event.

        Parameters
        ----------
        rng
            Random generator to draw from.
        month
            Grid month index of each event.
        weekend_weight
            Weight of a Saturday or Sunday relative to a weekday, so business
            activity concentrates on working days.
        month_end_weight
            Extra weight of the last ``MONTH_END_DAYS`` days of the month, which
            models the month-end billing rush.

        Returns
        -------
        numpy.ndarray
            Day number of each event, aligned with ``month``.
        """
        order = np.argsort(month, kind="stable")
        counts = np.bincount(month, minlength=self.months)
        sorted_days = np.empty(len(month), dtype=np.int64)
        position = 0
        for grid_month in np.flatnonzero(counts):
            count = counts[grid_month]
            candidates = np.arange(self.month_starts[grid_month], self.month_starts[grid_month + 1])
            weights = np.where(weekday(candidates) >= 5, weekend_weight, 1.0)
            weights[-MONTH_END_DAYS:] *= month_end_weight
            sorted_days[position : position + count] = rng.choice(
                candidates, size=count, p=weights / weights.sum()
            )
            position += count
        days = np.empty_like(sorted_days)
        days[order] = sorted_days
        return days
