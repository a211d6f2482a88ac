"""A score's inputs hash is pandas' row hash of its features, however few rows are scored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latepay.scoring.score import feature_row_hashes


def mixed_frame(rows: int) -> pd.DataFrame:
    """Every kind of column features hold: floats with NaN and -0.0, integers, booleans, text
    with missing values, numbers and text mixed, whole numbers held as objects, a nullable
    extension type; and dates and complex numbers, which they do not hold today."""
    positions = np.arange(rows)
    return pd.DataFrame(
        {
            "amount_log": np.where(positions % 3 == 0, np.nan, positions * 0.5 - 1.0),
            "signed_zero": np.where(positions % 2 == 0, -0.0, 0.0),
            "count": positions % 7,
            "small": (positions % 5).astype(np.int32),
            "flag": positions % 2 == 0,
            "payment_method": pd.Series(
                np.where(positions % 4 == 0, None, np.where(positions % 3 == 0, "card", "bank")),
                dtype=object,
            ),
            "more": positions * 1.25,
            "nullable": pd.array(np.where(positions % 3 == 0, None, positions), dtype="Int64"),
            "issued": pd.Timestamp("2024-01-31") + pd.to_timedelta(positions % 40, unit="D"),
            "complex": positions * (1 + 1j),
            "inv_mixed": pd.Series(
                np.where(positions % 2 == 0, positions, np.where(positions % 5 == 0, None, "x")),
                dtype=object,
            ),
            "inv_whole": pd.Series(positions % 3, dtype=object),
        }
    )


@pytest.mark.parametrize("rows", [1, 25, 200, 2_000])
def test_the_row_hashes_are_pandas_own(rows: int) -> None:
    frame = mixed_frame(rows)
    expected = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    assert np.array_equal(feature_row_hashes(frame), expected)


def test_the_row_hashes_follow_column_order_and_every_value() -> None:
    frame = mixed_frame(3)
    hashes = feature_row_hashes(frame)
    assert len(set(hashes)) == 3
    assert not np.array_equal(feature_row_hashes(frame[frame.columns[::-1]]), hashes)
    changed = frame.assign(more=frame["more"] + 1)
    assert (feature_row_hashes(changed) != hashes).all()
