"""A generated ledger of about 50,000 invoices, imported twice, and a two-worker Dask cluster.

The same files go into a SQLite database by ``latepay import`` (the single-machine ledger)
and into a Parquet dataset by the Dask import, so every comparison starts from two
independent imports of the same files. The cluster is a ``LocalCluster`` of two worker
processes: LightGBM's distributed training keeps one network per process, so thread workers
(``processes=False``) cannot train; starting the processes takes a few seconds, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from distributed import Client
from latepay.db import make_engine, upgrade_to_head
from latepay.distributed.cluster import dask_client
from latepay.distributed.dataset import LedgerDataset
from latepay.distributed.importing import import_to_dataset
from latepay.features import Ledger, load_ledger
from latepay.ingest import import_mapping
from latepay.synthetic import generate_ledger

CUSTOMERS = 500  # about 48,000 invoices over 36 months
BUCKETS = 4
# One LightGBM thread per process: the test machine's cores are shared.
MODEL_PARAMS = {"n_jobs": 1}


@dataclass(frozen=True)
class Imported:
    files: Path  # the generated files and their mapping.yaml
    database_url: str
    ledger: Ledger  # read back from the database
    dataset: LedgerDataset


@pytest.fixture(scope="session")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    folder = tmp_path_factory.mktemp("dask-ledger")
    files = folder / "files"
    generate_ledger(files, customers=CUSTOMERS, seed=7, file_format="parquet")
    url = f"sqlite:///{folder / 'latepay.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    assert import_mapping(engine, files / "mapping.yaml").ok
    ledger = load_ledger(engine)
    engine.dispose()
    result = import_to_dataset(files / "mapping.yaml", folder / "dataset", buckets=BUCKETS)
    assert result.report.ok
    return Imported(files, url, ledger, result.dataset)


@pytest.fixture(scope="session")
def client() -> Iterator[Client]:
    with dask_client("local:2") as client:
        yield client
