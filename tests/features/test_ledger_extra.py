import numpy as np
import pandas as pd

from latepay.features.ledger import _expand_extra


def test_extra_features_expand_per_row_whatever_the_driver_gives() -> None:
    frame = pd.DataFrame(
        {
            "invoice_id": list("abcdef"),
            # SQLite gives the stored text, PostgreSQL decoded values; some rows have none.
            "extra": [
                '{"po": 1, "region": "north"}',
                '{"po": 0, "region": "south"}',
                None,
                '{"po": 1, "region": "north"}',
                {"po": 0, "region": "south"},
                "",
            ],
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    expanded = _expand_extra(frame.copy(), "inv_")
    assert list(expanded.columns) == ["invoice_id", "inv_po", "inv_region"]
    assert expanded.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert expanded["inv_region"].tolist()[:2] == ["north", "south"]
    assert expanded["inv_region"].tolist()[3:5] == ["north", "south"]
    assert np.array_equal(
        expanded["inv_po"].to_numpy(), [1, 0, np.nan, 1, 0, np.nan], equal_nan=True
    )


def test_no_extra_features_adds_no_columns() -> None:
    frame = pd.DataFrame({"invoice_id": ["a", "b"], "extra": [None, "{}"]})
    assert list(_expand_extra(frame, "inv_").columns) == ["invoice_id"]
