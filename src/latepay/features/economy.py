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

import numpy as np
import pandas as pd

from latepay.features.events import EventStream, GroupCodes, day_numbers

CHANGE_PERIODS = 3
LEVEL_PERIODS = 12


def economy_features(
    indicators: pd.DataFrame,
    query_customers: pd.DataFrame,
    query_days: np.ndarray,
) -> pd.DataFrame:
    """Every indicator's latest published value, for each query, with its change over
    :data:`CHANGE_PERIODS` periods and its difference from the mean of the latest
    :data:`LEVEL_PERIODS` published values (missing until that many are published).

    Parameters
    ----------
    indicators : DataFrame
        name, key, period, value. ``key`` is an industry, a country or '' (global).
    query_customers : DataFrame
        industry and country of each query's customer.
    query_days : ndarray
        Each query's moment, from :func:`day_numbers`.
    """
    out: dict[str, np.ndarray] = {}
    for name, series in indicators.groupby("name", sort=True):
        slug = _slug(name)
        series = series.sort_values(["key", "period"], kind="stable")
        values = series.groupby("key")["value"]
        per_period = (
            series["value"],
            series["value"] - values.shift(CHANGE_PERIODS),
            series["value"] - values.rolling(LEVEL_PERIODS).mean().droplevel("key"),
        )
        published = day_numbers(series["period"] + pd.offsets.MonthEnd(0))
        query_keys = _join_keys(set(series["key"]), query_customers)
        codes = GroupCodes(series["key"], query_keys)
        stream = EventStream(codes.encode(series["key"]), published)
        last = stream.last_event_before(codes.encode(query_keys), query_days)
        found = last >= 0
        for feature, by_period in zip(_feature_names(slug), per_period, strict=True):
            column = np.full(len(query_days), np.nan)
            column[found] = by_period.to_numpy(dtype=float)[last[found]]
            out[feature] = column
    return pd.DataFrame(out, index=range(len(query_days)))


def _feature_names(slug: str) -> list[str]:
    return [f"econ_{slug}", f"econ_{slug}_chg{CHANGE_PERIODS}m", f"econ_{slug}_vs{LEVEL_PERIODS}m"]


def _join_keys(keys: set[str], customers: pd.DataFrame) -> pd.Series:
    """For each query, the key its customer matches: its industry, else its country, else ''."""
    industry = customers["industry"].astype(object).where(customers["industry"].isin(keys))
    country = customers["country"].astype(object).where(customers["country"].isin(keys))
    return industry.fillna(country).fillna("").astype(str).reset_index(drop=True)


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")
