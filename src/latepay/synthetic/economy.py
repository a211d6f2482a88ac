"""Monthly economic indicators, including an industry downturn.

Every industry has an activity index around 100. In one window of the period a
few industries go through a downturn: their index drops, and because the
lateness model reads this index, their customers pay late more often. A global
policy rate rises through the middle of the period.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from latepay.synthetic.timeline import MonthGrid
from latepay.synthetic.vocabulary import INDUSTRIES

ACTIVITY_BASELINE = 100.0
ACTIVITY_TREND_SD_PER_YEAR = 0.8
ACTIVITY_NOISE_SD = 1.2
ACTIVITY_NOISE_PERSISTENCE = 0.7

# The downturn window as fractions of the period: months 20-28 of 36.
DOWNTURN_WINDOW = (0.55, 0.80)
DOWNTURN_INDUSTRY_COUNTS = (2, 3)
DOWNTURN_DEPTH_RANGE = (14.0, 20.0)
DOWNTURN_RAMP_MONTHS = 3
DOWNTURN_RECOVERY_HALF_LIFE_MONTHS = 2.0

# Policy rate in percent: flat, then a hiking cycle between these period fractions.
POLICY_RATE_FLOOR = 0.25
POLICY_RATE_PEAK = 4.25
POLICY_HIKING_WINDOW = (0.40, 0.75)

ACTIVITY_INDICATOR = "industry_activity_index"
POLICY_RATE_INDICATOR = "policy_rate"


@dataclass(frozen=True)
class Economy:
    """Published monthly indicators.

    Attributes
    ----------
    activity_index
        Industry activity index, shape ``(len(INDUSTRIES), months)``, rounded to
        the two decimals that are published.
    policy_rate
        Global policy rate in percent per month.
    downturn_industries
        Industry codes hit by the downturn.
    downturn_months
        Grid months of the downturn window.
    downturn_stress
        Share of its full depth the downturn has reached, per industry and month, shape
        ``(len(INDUSTRIES), months)``: 0 outside the hit industries and the window, 1 at the
        trough.
    """

    activity_index: np.ndarray
    policy_rate: np.ndarray
    downturn_industries: np.ndarray
    downturn_months: range
    downturn_stress: np.ndarray


def downturn_window(months: int) -> range:
    """Grid months of the downturn window for a period of ``months`` months."""
    first, end = (round(fraction * months) for fraction in DOWNTURN_WINDOW)
    return range(first, end)


def simulate_economy(rng: np.random.Generator, grid: MonthGrid) -> Economy:
    """Simulate the monthly indicators of the period.

    Parameters
    ----------
    rng
        Random generator dedicated to the economy, so indicators do not depend on
        how many customers are generated.
    grid
        The months of the period.

    Returns
    -------
    Economy
        The published indicators and the downturn that shaped them.
    """
    months = grid.months
    elapsed_years = np.arange(months) / 12
    trend = rng.normal(0.0, ACTIVITY_TREND_SD_PER_YEAR, len(INDUSTRIES))[:, None] * elapsed_years

    shocks = rng.normal(0.0, ACTIVITY_NOISE_SD, (len(INDUSTRIES), months))
    noise = np.empty_like(shocks)
    noise[:, 0] = shocks[:, 0]
    for month in range(1, months):
        noise[:, month] = ACTIVITY_NOISE_PERSISTENCE * noise[:, month - 1] + shocks[:, month]

    window = downturn_window(months)
    industry_count = rng.choice(DOWNTURN_INDUSTRY_COUNTS)
    downturn_industries = np.sort(rng.choice(len(INDUSTRIES), size=industry_count, replace=False))
    depth = rng.uniform(*DOWNTURN_DEPTH_RANGE, size=industry_count)
    stress = np.zeros((len(INDUSTRIES), months))
    stress[downturn_industries] = _downturn_shape(months, window)
    depths = np.zeros(len(INDUSTRIES))
    depths[downturn_industries] = depth

    activity = ACTIVITY_BASELINE + trend + noise - depths[:, None] * stress
    return Economy(
        activity_index=np.round(activity, 2),
        policy_rate=np.round(_policy_rate_path(months), 2),
        downturn_industries=downturn_industries,
        downturn_months=window,
        downturn_stress=stress,
    )


def _downturn_shape(months: int, window: range) -> np.ndarray:
    """Share of the full downturn depth reached in each month (0 outside, 1 at the trough)."""
    month = np.arange(months)
    if len(window) == 0:
        return np.zeros(months)
    ramp_in = np.clip((month - window.start + 1) / DOWNTURN_RAMP_MONTHS, 0.0, 1.0)
    # Recovery is gradual so the index, not just the calendar, marks the downturn.
    months_since_end = month - window.stop + 1
    recovery = 0.5 ** (np.maximum(months_since_end, 0) / DOWNTURN_RECOVERY_HALF_LIFE_MONTHS)
    return np.where(month < window.stop, ramp_in, recovery * (month >= window.stop))


def _policy_rate_path(months: int) -> np.ndarray:
    hike_start, hike_end = (fraction * months for fraction in POLICY_HIKING_WINDOW)
    progress = np.clip((np.arange(months) - hike_start) / (hike_end - hike_start), 0.0, 1.0)
    return POLICY_RATE_FLOOR + (POLICY_RATE_PEAK - POLICY_RATE_FLOOR) * progress


def indicator_table(economy: Economy, grid: MonthGrid) -> pd.DataFrame:
    """Long table of published indicators: ``period, name, value, key``.

    The policy rate is global and has no key; the activity index is keyed by
    industry.
    """
    periods = grid.period_labels()
    months = grid.months
    activity = pd.DataFrame(
        {
            "period": np.tile(periods, len(INDUSTRIES)),
            "name": ACTIVITY_INDICATOR,
            "value": economy.activity_index.ravel(),
            "key": np.repeat(np.array(INDUSTRIES), months),
        }
    )
    policy = pd.DataFrame(
        {
            "period": periods,
            "name": POLICY_RATE_INDICATOR,
            "value": economy.policy_rate,
            "key": None,
        }
    )
    table = pd.concat([policy, activity], ignore_index=True)
    return table.sort_values(
        ["period", "name", "key"], kind="stable", na_position="first"
    ).reset_index(drop=True)
