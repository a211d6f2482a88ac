"""Customer extras are numbers when each is one, decided value by value: a prepared ledger
decides it for any selection of customers as for those customers' values alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from tests.features.test_point_in_time import random_ledger

from latepay.features import Ledger
from latepay.features.build import _CustomerTable, _numeric_if_possible
from latepay.features.events import GroupCodes

EXTRAS = {
    "cust_score": [1.5, 2.0, np.nan, 4.0, 0.0, -3.25],
    "cust_flag": [True, False, True, True, False, False],
    "cust_mixed": ["12", " Yes", "gold", None, "no", "3.5"],
    "cust_words": ["gold", "silver", None, "bronze", "gold", "iron"],
    "cust_counted": ["1", "2", "3", "4", "5", "6"],
}


@pytest.mark.parametrize("text_dtype", [object, "string", "str"])
def test_any_selection_of_customers_reads_its_extras_as_they_alone_would(text_dtype) -> None:
    base = random_ledger(3, customers=6)
    customers = base.customers.sort_values("customer_id").reset_index(drop=True)
    for name, values in EXTRAS.items():
        column = pd.Series(values)
        customers[name] = column if column.dtype != object else column.astype(text_dtype)
    ledger = Ledger.from_frames(
        invoices=base.invoices,
        customers=customers,
        disputes=base.disputes,
        interactions=base.interactions,
        indicators=base.indicators,
    )
    codes = GroupCodes(customers["customer_id"])
    table = _CustomerTable(ledger, codes)
    stored = pd.concat(
        [customers.set_index("customer_id")[list(EXTRAS)], pd.DataFrame(index=[None])],
        ignore_index=True,
    )
    # Code -1 is a customer not on file: the empty row.
    for groups in ([0, 1, 2, 3, 4, 5], [0, 3], [4], [2, -1], [5, 1, 1], [-1]):
        got = table.rows(np.array(groups))
        rows = [len(customers) if g == -1 else g for g in groups]
        for name in EXTRAS:
            alone = _numeric_if_possible(stored[name].iloc[rows].reset_index(drop=True))
            pdt.assert_series_equal(got[name], alone, check_names=False)
    # A selection of numbers alone reads as numbers; with a word that is no number, as text.
    assert table.rows(np.array([0, 4]))["cust_mixed"].tolist() == [12.0, 0.0]
    assert table.rows(np.array([0, 2]))["cust_mixed"].tolist() == [12.0, "gold"]
