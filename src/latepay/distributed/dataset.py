"""The ledger as a Parquet dataset partitioned by customer: what every Dask step reads.

Each table that belongs to a customer (invoices, customers, disputes, interactions) is
hash-partitioned on ``customer_id`` into the same number of buckets, written as Hive-style
folders (``invoices/customer_bucket=7/...``). Bucket *k* of every table holds the whole
history of the same customers, so one Dask partition (one bucket) is a self-contained
:class:`~latepay.features.Ledger` for its customers, and features computed on it equal those
computed on the whole ledger. Data is shuffled once, when it is written; every later step
reads co-partitioned buckets without moving rows between workers. The economic indicators are
small and shared by all customers: one file, broadcast to every partition. The customer
tables are the :class:`~latepay.features.Ledger`'s own, whatever it holds.

The folder must be readable by every worker (a shared file system or an object store mount).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq

from latepay.errors import InputError
from latepay.features import Ledger

DATASET_FILE = "dataset.json"
FORMAT_VERSION = 1
BUCKET = "customer_bucket"
INDICATORS = "indicators"
# Every table of a ledger but the indicators belongs to a customer.
CUSTOMER_TABLES = tuple(field.name for field in fields(Ledger) if field.name != INDICATORS)
INDICATORS_FILE = "indicators.parquet"
# Invoices per bucket: a bucket's features and LightGBM input stay well under a gigabyte.
INVOICES_PER_BUCKET = 200_000
MIN_BUCKETS = 8


def customer_buckets(customer_ids: pd.Series, buckets: int) -> np.ndarray:
    """The bucket of each customer id: a stable hash (the same on every machine and run)."""
    hashes = pd.util.hash_array(customer_ids.astype(str).to_numpy(dtype=object))
    return (hashes % np.uint64(buckets)).astype(np.int32)


def write_partitioned(frame: pd.DataFrame, folder: Path, buckets: int) -> None:
    """Write ``frame`` (with a customer_id column) into ``folder``, one sub-folder per bucket."""
    table = pa.Table.from_pandas(
        frame.assign(**{BUCKET: customer_buckets(frame["customer_id"], buckets)}),
        preserve_index=False,
    )
    if table.num_rows == 0:
        # No bucket folder would be written: keep the columns in an empty bucket 0.
        (folder / f"{BUCKET}=0").mkdir(parents=True)
        pq.write_table(table.drop_columns([BUCKET]), folder / f"{BUCKET}=0" / "empty.parquet")
        return
    pq.write_to_dataset(table, folder, partition_cols=[BUCKET])


def read_bucket(bucket: int, folder: Path) -> pd.DataFrame:
    """The rows of one bucket of a partitioned folder (empty, with its columns, if none)."""
    dataset = pa_ds.dataset(folder, format="parquet", partitioning="hive")
    rows = dataset.to_table(filter=pa_ds.field(BUCKET) == bucket)
    return rows.drop_columns([BUCKET]).to_pandas()


def partitioned_frame(folder: Path, buckets: int) -> dd.DataFrame:
    """A Dask frame of a partitioned folder with one partition per bucket, in bucket order."""
    schema = pa_ds.dataset(folder, format="parquet", partitioning="hive").schema
    meta = schema.empty_table().drop_columns([BUCKET]).to_pandas()
    return dd.from_map(read_bucket, range(buckets), args=[folder], meta=meta)


@dataclass(frozen=True)
class LedgerDataset:
    """A ledger written by :func:`write_ledger_dataset`.

    Attributes
    ----------
    path : Path
        The dataset folder.
    buckets : int
        Customer buckets of every partitioned table (the Dask partitions).
    as_of : Timestamp
        The whole ledger's as-of day (:attr:`latepay.features.Ledger.as_of`); a bucket alone
        would give its own, earlier one.
    invoices : int
        Invoices in the dataset.
    """

    path: Path
    buckets: int
    as_of: pd.Timestamp
    invoices: int

    @classmethod
    def open(cls, path: Path) -> LedgerDataset:
        """Open the dataset in ``path``, refusing a folder that is not one."""
        path = Path(path)
        description = path / DATASET_FILE
        if not description.is_file():
            raise InputError(
                f"{path} is not a latepay Parquet dataset (no {DATASET_FILE}); write one with "
                f"`latepay import MAPPING --dask ADDRESS --data {path}`"
            )
        info = json.loads(description.read_text())
        if info.get("format_version") != FORMAT_VERSION:
            raise InputError(
                f"{path} holds dataset format {info.get('format_version')!r}; this latepay "
                f"reads format {FORMAT_VERSION}: import the files again"
            )
        return cls(path, int(info["buckets"]), pd.Timestamp(info["as_of"]), int(info["invoices"]))

    def table(self, name: str) -> dd.DataFrame:
        """One customer table as a Dask frame, partition *k* being bucket *k*."""
        return partitioned_frame(self.path / name, self.buckets)

    def tables(self) -> list[dd.DataFrame]:
        """The customer tables in :data:`CUSTOMER_TABLES` order, partitions aligned."""
        return [self.table(name) for name in CUSTOMER_TABLES]

    def indicators(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / INDICATORS_FILE)

    def ledger(self, bucket: int) -> Ledger:
        """The ledger of one bucket's customers, read on this machine."""
        tables = [read_bucket(bucket, self.path / name) for name in CUSTOMER_TABLES]
        return bucket_ledger(*tables, indicators=self.indicators())


def bucket_ledger(*tables: pd.DataFrame, indicators: pd.DataFrame) -> Ledger:
    """The :class:`Ledger` of one bucket's tables, given in :data:`CUSTOMER_TABLES` order."""
    return Ledger.from_frames(
        **dict(zip(CUSTOMER_TABLES, tables, strict=True)), indicators=indicators
    )


def write_ledger_dataset(
    ledger: Ledger, path: Path, *, buckets: int | None = None
) -> LedgerDataset:
    """Write ``ledger`` into ``path`` as a dataset partitioned by customer, replacing any.

    Parameters
    ----------
    ledger : Ledger
    path : Path
        Folder of the dataset; written beside it first and moved into place when complete,
        so a reader never sees half a dataset.
    buckets : int, optional
        Customer buckets; by default one per :data:`INVOICES_PER_BUCKET` invoices, at least
        :data:`MIN_BUCKETS`.
    """
    path = Path(path)
    if buckets is None:
        buckets = max(MIN_BUCKETS, math.ceil(len(ledger.invoices) / INVOICES_PER_BUCKET))
    if buckets < 1:
        raise InputError(f"a dataset needs at least one bucket, got {buckets}")
    staging = path.with_name(f".{path.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in CUSTOMER_TABLES:
        write_partitioned(getattr(ledger, name), staging / name, buckets)
    ledger.indicators.to_parquet(staging / INDICATORS_FILE, index=False)
    info = {
        "format_version": FORMAT_VERSION,
        "buckets": buckets,
        "as_of": f"{ledger.as_of:%Y-%m-%d}",
        "invoices": len(ledger.invoices),
        "customers": len(ledger.customers),
    }
    (staging / DATASET_FILE).write_text(json.dumps(info, indent=2))
    if path.exists():
        shutil.rmtree(path)
    staging.rename(path)
    return LedgerDataset.open(path)
