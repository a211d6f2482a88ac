"""Economic indicators as of a moment, joined by the customer's industry or country, or global.

An indicator's value for a period is taken as published on the last day of that period's month,
so it is known from the first day of the next month on. That is conservative for indicators
published sooner and honest for the usual monthly releases.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from latepay.features.events import EventStream, GroupCodes, day_numbers

CHANGE_PERIODS = 3


def indicator_feature_names(indicators: pd.DataFrame) -> list[str]:
    """The two features each indicator adds: its latest value and its 3-period change."""
    names = []
    for name in sorted(indicators["name"].dropna().unique()):
        slug = _slug(name)
        names += [f"econ_{slug}", f"econ_{slug}_chg{CHANGE_PERIODS}m"]
    return names


def economy_features(
    indicators: pd.DataFrame,
    query_customers: pd.DataFrame,
    query_days: np.ndarray,
) -> pd.DataFrame:
    """Latest published value and 3-period change of every indicator, for each query.

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
        change = series["value"] - series.groupby("key")["value"].shift(CHANGE_PERIODS)
        published = day_numbers(series["period"] + pd.offsets.MonthEnd(0))
        query_keys = _join_keys(set(series["key"]), query_customers)
        codes = GroupCodes(series["key"], query_keys)
        stream = EventStream(codes.encode(series["key"]), published)
        last = stream.last_event_before(codes.encode(query_keys), query_days)
        found = last >= 0
        value = np.full(len(query_days), np.nan)
        value[found] = series["value"].to_numpy(dtype=float)[last[found]]
        delta = np.full(len(query_days), np.nan)
        delta[found] = change.to_numpy(dtype=float)[last[found]]
        out[f"econ_{slug}"] = value
        out[f"econ_{slug}_chg{CHANGE_PERIODS}m"] = delta
    return pd.DataFrame(out, index=range(len(query_days)))


def _join_keys(keys: set[str], customers: pd.DataFrame) -> pd.Series:
    """For each query, the key its customer matches: its industry, else its country, else ''."""
    industry = customers["industry"].astype(object).where(customers["industry"].isin(keys))
    country = customers["country"].astype(object).where(customers["country"].isin(keys))
    return industry.fillna(country).fillna("").astype(str).reset_index(drop=True)


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")
