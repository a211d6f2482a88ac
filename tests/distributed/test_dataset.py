"""The customer-partitioned dataset: buckets, the import, and the folder checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latepay.distributed.cluster import local_workers
from latepay.distributed.commands import dataset_folder
from latepay.distributed.dataset import CUSTOMER_TABLES, LedgerDataset, customer_buckets
from latepay.distributed.importing import import_to_dataset
from latepay.errors import InputError


def test_buckets_are_stable_and_in_range():
    ids = pd.Series([f"C{n:06d}" for n in range(1000)])
    buckets = customer_buckets(ids, 7)
    assert buckets.min() >= 0 and buckets.max() <= 6
    assert len(set(buckets)) == 7  # 1,000 ids reach every bucket
    # The same id lands in the same bucket whatever else is hashed with it.
    assert (customer_buckets(ids[::-1], 7) == buckets[::-1]).all()
    assert customer_buckets(pd.Series(["C000123"]), 7)[0] == buckets[123]


def copy_of_files(imported, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    for path in imported.files.iterdir():
        (files / path.name).write_bytes(path.read_bytes())
    return files


@pytest.mark.slow  # the session's generated ledger, imported twice
def test_each_customer_lives_in_exactly_one_bucket(imported):
    dataset = imported.dataset
    seen: dict[str, int] = {}
    for bucket in range(dataset.buckets):
        ledger = dataset.ledger(bucket)
        for name in CUSTOMER_TABLES:
            for customer in getattr(ledger, name)["customer_id"].unique():
                assert seen.setdefault(customer, bucket) == bucket, (name, customer)
    assert set(seen) == set(imported.ledger.customers["customer_id"])


@pytest.mark.slow  # the session's generated ledger, imported twice
def test_dataset_holds_the_same_ledger_as_the_database_import(imported):
    dataset = imported.dataset
    parts = [dataset.ledger(bucket) for bucket in range(dataset.buckets)]
    for name in (*CUSTOMER_TABLES, "indicators"):
        expected = getattr(imported.ledger, name)
        got = (
            parts[0].indicators
            if name == "indicators"
            else pd.concat([getattr(part, name) for part in parts])
        )
        order = list(expected.columns[:4])
        expected = expected.sort_values(order).reset_index(drop=True)
        got = got[expected.columns].sort_values(order).reset_index(drop=True)
        # Only integer columns SQLite hands back as int64 may differ in type.
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert dataset.as_of == imported.ledger.as_of
    assert dataset.invoices == len(imported.ledger.invoices)


@pytest.mark.slow  # the session's generated ledger, imported twice
def test_a_file_with_a_bad_row_writes_no_dataset(imported, tmp_path):
    files = copy_of_files(imported, tmp_path)
    invoices = pd.read_parquet(files / "invoices.parquet")
    invoices.loc[3, "amount"] = 0.0
    invoices.to_parquet(files / "invoices.parquet", index=False)
    result = import_to_dataset(files / "mapping.yaml", tmp_path / "dataset")
    assert not result.report.ok and result.dataset is None
    assert not (tmp_path / "dataset").exists()
    (error,) = result.report.errors
    assert (error.file, error.line, error.column) == ("invoices.parquet", 5, "amount")
    assert result.report.entities["payments"].skipped


@pytest.mark.slow  # the session's generated ledger, imported once more
def test_a_repeated_key_names_the_line_it_repeats_as_the_database_import_does(imported, tmp_path):
    files = copy_of_files(imported, tmp_path)
    invoices = pd.read_parquet(files / "invoices.parquet")
    repeat = invoices.iloc[[3]].assign(amount=invoices["amount"].iloc[3] + 1)
    pd.concat([invoices, repeat], ignore_index=True).to_parquet(
        files / "invoices.parquet", index=False
    )
    result = import_to_dataset(files / "mapping.yaml", tmp_path / "dataset")
    (error,) = [e for e in result.report.errors if e.line == len(invoices) + 2]
    assert error.reason.endswith("(first on line 5)")


def test_a_folder_that_is_not_a_dataset_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a latepay Parquet dataset"):
        LedgerDataset.open(tmp_path)


@pytest.mark.parametrize(
    ("address", "data", "message"),
    [(None, "ds", "add --dask"), ("local", None, "needs --data")],
)
def test_dask_and_data_go_together(address, data, message, tmp_path):
    with pytest.raises(InputError, match=message):
        dataset_folder(address, None if data is None else tmp_path / data)
    assert dataset_folder(None, None) is None


def test_local_addresses():
    assert local_workers("local") == 2
    assert local_workers("local:3") == 3
    assert local_workers("tcp://10.0.0.5:8786") is None
    with pytest.raises(InputError, match="local:N"):
        local_workers("local:zero")
    assert np.issubdtype(customer_buckets(pd.Series(["a"]), 2).dtype, np.integer)
