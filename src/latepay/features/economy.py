"""Economic indicators as of a moment, joined by the customer's industry or country, or global.

An indicator's value for a period is taken as published on the last day of that period's month,
so it is known from the first day of the next month on. That is conservative for indicators
published sooner and honest for the usual monthly releases.

Besides its latest value, each indicator gives its change over the last few periods and its
distance from its own average over the last year. A shock in one industry is then the same
number whatever that industry's usual level, so a model retrained on a downturn can tell when
a later one starts, and when it has passed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from latepay.features.events import EventStream, GroupCodes, day_numbers

CHANGE_PERIODS = 3
LEVEL_PERIODS = 12


@dataclass(frozen=True)
class _Indicator:
    """One indicator's publications, keyed by industry, country or '' (global)."""

    codes: GroupCodes
    published: EventStream
    # Per publication, in the order given to the stream: value, change and distance.
    by_period: tuple[np.ndarray, np.ndarray, np.ndarray]
    feature_names: list[str]


class Economy:
    """Every indicator's latest published value as of a moment, with its change over
    :data:`CHANGE_PERIODS` periods and its difference from the mean of the latest
    :data:`LEVEL_PERIODS` published values (missing until that many are published).

    Parameters
    ----------
    indicators : DataFrame
        name, key, period, value. ``key`` is an industry, a country or '' (global).
    """

    def __init__(self, indicators: pd.DataFrame) -> None:
        self._indicators = [
            self._prepare(str(name), series)
            for name, series in indicators.groupby("name", sort=True)
        ]

    @staticmethod
    def _prepare(name: str, series: pd.DataFrame) -> _Indicator:
        series = series.sort_values(["key", "period"], kind="stable")
        values = series.groupby("key")["value"]
        by_period = (
            series["value"],
            series["value"] - values.shift(CHANGE_PERIODS),
            series["value"] - values.rolling(LEVEL_PERIODS).mean().droplevel("key"),
        )
        codes = GroupCodes(series["key"])
        published = day_numbers(series["period"] + pd.offsets.MonthEnd(0))
        return _Indicator(
            codes=codes,
            published=EventStream(codes.encode(series["key"]), published),
            by_period=tuple(column.to_numpy(dtype=float) for column in by_period),
            feature_names=_feature_names(_slug(name)),
        )

    def key_codes(self, customers: pd.DataFrame) -> list[np.ndarray]:
        """Per indicator, the series each customer reads (by its industry, else its country,
        else the global one; -1 for none): worked out once per customer, not per query."""
        return [
            indicator.codes.lookup(_join_keys(indicator.codes.ids, customers))
            for indicator in self._indicators
        ]

    def features(
        self, key_codes: list[np.ndarray], query_days: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Feature columns for the queries: their series (from :meth:`key_codes`) and moments."""
        out: dict[str, np.ndarray] = {}
        for indicator, keys in zip(self._indicators, key_codes, strict=True):
            last = indicator.published.last_event_before(keys, query_days)
            found = last >= 0
            for feature, by_period in zip(
                indicator.feature_names, indicator.by_period, strict=True
            ):
                column = np.full(len(query_days), np.nan)
                column[found] = by_period[last[found]]
                out[feature] = column
        return out


def _feature_names(slug: str) -> list[str]:
    return [f"econ_{slug}", f"econ_{slug}_chg{CHANGE_PERIODS}m", f"econ_{slug}_vs{LEVEL_PERIODS}m"]


def _join_keys(keys: pd.Index, customers: pd.DataFrame) -> pd.Series:
    """For each query, the key its customer matches: its industry, else its country, else ''."""
    industry = customers["industry"].astype(object).where(customers["industry"].isin(keys))
    country = customers["country"].astype(object).where(customers["country"].isin(keys))
    return industry.fillna(country).fillna("").astype(str).reset_index(drop=True)


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")
