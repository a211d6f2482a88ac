"""Economic indicator features: latest published value, 3-month change, distance from the year."""

import numpy as np
import pandas as pd

from latepay.features.economy import Economy
from latepay.features.events import day_numbers

PERIODS = pd.date_range("2022-01-01", periods=15, freq="MS")


def indicators() -> pd.DataFrame:
    # Retail sits near 100 and falls in its last three months; logistics sits near 50.
    retail = [100.0 + (i % 2) for i in range(12)] + [90.0, 85.0, 80.0]
    logistics = [50.0 + (i % 3) for i in range(15)]
    return pd.DataFrame(
        {
            "name": "activity",
            "key": ["retail"] * 15 + ["logistics"] * 15,
            "period": [*PERIODS, *PERIODS],
            "value": retail + logistics,
        }
    )


def features_on(days: list[str], industries: list[str]) -> pd.DataFrame:
    customers = pd.DataFrame({"industry": industries, "country": None})
    economy = Economy(indicators())
    return pd.DataFrame(
        economy.features(economy.key_codes(customers), day_numbers(pd.to_datetime(days)))
    )


def test_each_indicator_gives_its_value_change_and_distance_from_its_year() -> None:
    # On 2023-04-01 the latest published retail value is March 2023's (index 14).
    out = features_on(["2023-04-01", "2023-04-01"], ["retail", "logistics"])
    assert list(out.columns) == ["econ_activity", "econ_activity_chg3m", "econ_activity_vs12m"]
    retail = [100.0 + (i % 2) for i in range(12)] + [90.0, 85.0, 80.0]
    logistics = [50.0 + (i % 3) for i in range(15)]
    assert out["econ_activity"].tolist() == [80.0, logistics[14]]
    assert out["econ_activity_chg3m"].tolist() == [80.0 - retail[11], logistics[14] - logistics[11]]
    expected = [80.0 - np.mean(retail[3:15]), logistics[14] - np.mean(logistics[3:15])]
    np.testing.assert_allclose(out["econ_activity_vs12m"], expected)
    # The same shock reads alike in an industry whatever its usual level.
    assert out["econ_activity_vs12m"].iloc[0] < -10 < out["econ_activity_vs12m"].iloc[1]


def test_a_period_counts_only_once_published_and_a_year_needs_twelve() -> None:
    # On the last day of March 2023 its value is not yet published: February's is the latest.
    out = features_on(["2023-03-31", "2022-12-01", "2023-01-01"], ["retail"] * 3)
    assert out["econ_activity"].iloc[0] == 85.0
    # On 2022-12-01, eleven periods are published: too few for a year's average.
    assert np.isnan(out["econ_activity_vs12m"].iloc[1])
    assert not np.isnan(out["econ_activity_vs12m"].iloc[2])
