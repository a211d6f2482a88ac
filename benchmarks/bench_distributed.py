"""The Dask back end against one machine: features, training and scoring at 1M and 10M invoices.

    python benchmarks/bench_distributed.py [--invoices 1000000 10000000] [--workers 2]

For each size it generates (or reuses from ``benchmarks/results/cache/``) a Parquet ledger
with ``generate_ledger`` and writes it as a customer-partitioned dataset with the importer's
checks (``latepay import --dask``'s :func:`~latepay.distributed.importing.import_to_dataset`).
Then, each in a fresh process:

- **one machine**: the whole ledger in one process; features of every invoice with a known
  outcome (:func:`~latepay.models.training.training_data`), the gbm fit, and every invoice
  scored as of its issue date by :func:`~latepay.scoring.score_invoices` in chunks of
  customers (as ``latepay score`` does), written as Parquet;
- **Dask**: a ``LocalCluster`` of ``--workers`` single-threaded worker processes; the same
  three stages by :mod:`latepay.distributed` (features persisted on the workers, the fit with
  LightGBM's Dask estimators, scores written as a Parquet folder).

Both score with the model fitted on one machine, so the scoring stages do the same work.
LightGBM uses one thread per process (``n_jobs=1``; a Dask worker has one thread), so the
cluster has as many cores as workers. Memory is the peak resident set of every process
(the driver and each worker), sampled with psutil every 0.2 s; a stage's figure is the
largest of its processes. Target: 10M invoices scored end to end with no process above 8 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from latepay.synthetic import generate_ledger

HERE = Path(__file__).resolve().parent
CACHE = HERE / "results" / "cache"
INVOICES_PER_CUSTOMER = 100  # what generate_ledger gives a typical customer over 36 months
MEMORY_TARGET_GB = 8.0
SCORING_CHUNK_INVOICES = 100_000
MODEL_PARAMS = {"n_jobs": 1}
GB = 1024**3


class PeakMemory:
    """Peak resident memory of some processes, sampled in a background thread."""

    def __init__(self, pids: dict[str, int], interval: float = 0.2) -> None:
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peaks = dict.fromkeys(pids, 0)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample_once()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample_once()

    def _sample_once(self) -> None:
        for name, process in self.processes.items():
            try:
                self.peaks[name] = max(self.peaks[name], process.memory_info().rss)
            except psutil.NoSuchProcess:
                continue


def main() -> int:
    options = _parse_arguments()
    if options.child:
        return _child(*options.child)
    console = Console(width=200)
    rows = []
    for invoices in options.invoices:
        customers = max(1, invoices // INVOICES_PER_CUSTOMER)
        ledger, generated = _cached_ledger(customers)
        dataset, imported = _cached_dataset(ledger, customers)
        console.print(
            f"{customers:,} customers: ledger {generated}, dataset {imported} ({dataset.name})"
        )
        with tempfile.TemporaryDirectory(prefix="latepay-bench-dask-") as scratch:
            for mode in [m if m == "single" else f"dask:{options.workers}" for m in options.modes]:
                figures = _run_child(mode, dataset, Path(scratch))
                rows += [{"size": invoices, "mode": mode, **row} for row in figures]
                console.print(f"  {mode}: done")
    _print_table(console, rows, options.workers)
    scored_10m = [
        r for r in rows if r["mode"] != "single" and r["stage"] == "scoring" and r["size"] >= 10**7
    ]
    over = [r for r in rows if r["mode"] != "single" and r["peak_gb"] > MEMORY_TARGET_GB]
    return (
        1
        if over or (10**7 in options.invoices and "dask" in options.modes and not scored_10m)
        else 0
    )


def _parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--modes", nargs="+", choices=("single", "dask"), default=["single", "dask"]
    )
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DATASET", "SCRATCH"))
    return parser.parse_args()


def _cached_ledger(customers: int) -> tuple[Path, str]:
    folder = CACHE / f"ledger-{customers}-seed0-parquet"
    if (folder / "mapping.yaml").is_file():
        return folder, "reused"
    started = time.perf_counter()
    summary = generate_ledger(folder, customers=customers, seed=0, file_format="parquet")
    return (
        folder,
        f"generated: {summary.invoices:,} invoices in {time.perf_counter() - started:.0f} s",
    )


def _cached_dataset(ledger: Path, customers: int) -> tuple[Path, str]:
    from latepay.distributed.importing import import_to_dataset

    folder = CACHE / f"dataset-{customers}-seed0"
    if (folder / "dataset.json").is_file():
        return folder, "reused"
    started = time.perf_counter()
    with PeakMemory({"driver": os.getpid()}) as memory:
        result = import_to_dataset(ledger / "mapping.yaml", folder)
    if not result.report.ok:
        raise RuntimeError(f"the generated ledger did not import: {result.report.errors[:3]}")
    return folder, (
        f"imported in {time.perf_counter() - started:.0f} s, "
        f"peak {memory.peaks['driver'] / GB:.1f} GB"
    )


def _run_child(mode: str, dataset: Path, scratch: Path) -> list[dict]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(dataset), str(scratch)],
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def _child(mode: str, dataset_path: str, scratch: str) -> int:
    from latepay.distributed.dataset import LedgerDataset

    dataset = LedgerDataset.open(Path(dataset_path))
    if mode == "single":
        rows = _single_machine(dataset, Path(scratch))
    else:
        rows = _on_dask(dataset, Path(scratch), workers=int(mode.split(":")[1]))
    print(json.dumps(rows))
    return 0


def _single_machine(dataset, scratch: Path) -> list[dict]:
    import pandas as pd

    from latepay.distributed.dataset import CUSTOMER_TABLES, bucket_ledger
    from latepay.features.labels import DEFAULT_SPEC
    from latepay.models.training import make_model, training_data
    from latepay.scoring import score_invoices

    rows = []
    pids = {"driver": os.getpid()}

    def stage(name: str, work):
        started = time.perf_counter()
        with PeakMemory(pids) as memory:
            result, invoices = work()
        rows.append(_row(name, invoices, time.perf_counter() - started, memory.peaks))
        return result

    def load():
        tables = [pd.read_parquet(dataset.path / name) for name in CUSTOMER_TABLES]
        tables = [t.drop(columns="customer_bucket", errors="ignore") for t in tables]
        ledger = bucket_ledger(*tables, indicators=dataset.indicators())
        return ledger, len(ledger.invoices)

    ledger = stage("load ledger", load)

    def features():
        data = training_data(ledger, cutoff=dataset.as_of, spec=DEFAULT_SPEC)
        return data, len(data.is_late)

    data = stage("features", features)

    def training():
        return make_model("gbm", **MODEL_PARAMS).fit(data), len(data.is_late)

    model = stage("training", training)
    data = None  # the features are not needed for scoring
    model.save(scratch / "model")
    model.version_ = "benchmark"

    def scoring():
        invoices = ledger.invoices[~ledger.invoices["is_credit_note"]]
        customers = invoices["customer_id"].unique()
        per_chunk = max(1, round(len(customers) * SCORING_CHUNK_INVOICES / len(invoices)))
        output = scratch / "single-scores"
        output.mkdir()
        for start in range(0, len(customers), per_chunk):
            chunk = customers[start : start + per_chunk]
            part = ledger.for_customers(chunk)
            queries = part.invoices[~part.invoices["is_credit_note"]]
            scores = score_invoices(model, part, queries, reasons=0)
            scores.to_parquet(output / f"part-{start}.parquet", index=False)
        return None, len(invoices)

    stage("scoring", scoring)
    return rows


def _on_dask(dataset, scratch: Path, *, workers: int) -> list[dict]:
    from latepay.distributed.cluster import dask_client
    from latepay.distributed.features import training_rows
    from latepay.distributed.scoring import IssuedFrom, score_on_dask, write_scores
    from latepay.distributed.training import fit_gbm_on_dask
    from latepay.features.labels import DEFAULT_SPEC
    from latepay.models.gbm import GradientBoostingLateModel

    rows = []
    started = time.perf_counter()
    with dask_client(f"local:{workers}") as client:
        pids = {"driver": os.getpid()}
        for position, pid in enumerate(client.run(os.getpid).values()):
            pids[f"worker {position + 1}"] = pid
        rows.append(_row("start cluster", 0, time.perf_counter() - started, {}))

        def stage(name: str, work):
            started = time.perf_counter()
            with PeakMemory(pids) as memory:
                result, invoices = work()
            rows.append(_row(name, invoices, time.perf_counter() - started, memory.peaks))
            return result

        def features():
            persisted = client.persist(
                training_rows(dataset, cutoff=dataset.as_of, spec=DEFAULT_SPEC)
            )
            return persisted, len(persisted)

        training = stage("features", features)

        def fit():
            model = fit_gbm_on_dask(client, training, spec=DEFAULT_SPEC, params=MODEL_PARAMS)
            return model, len(training)

        stage("training", fit)
        training = None  # release the persisted features on the workers
        model = GradientBoostingLateModel.load(scratch / "model")
        model.version_ = "benchmark"

        def scoring():
            first_day = dataset.table("invoices")["issue_date"].min().compute()
            scores = score_on_dask(
                model, dataset, IssuedFrom(first_day), tier_cutoffs=(0.25, 0.5, 0.75)
            )
            written = write_scores(scores, scratch / "dask-scores")
            return None, written.scored

        stage("scoring", scoring)
    shutil.rmtree(scratch / "dask-scores", ignore_errors=True)
    return rows


def _row(stage: str, invoices: int, seconds: float, peaks: dict[str, int]) -> dict:
    return {
        "stage": stage,
        "invoices": invoices,
        "seconds": seconds,
        "peaks": {name: peak / GB for name, peak in peaks.items()},
        "peak_gb": max(peaks.values(), default=0) / GB,
    }


def _print_table(console: Console, rows: list[dict], workers: int) -> None:
    table = Table(title=f"Dask ({workers} workers, LocalCluster) vs one machine")
    for column in ("size", "mode", "stage", "invoices", "seconds", "peak GB per process"):
        table.add_column(column, justify="left" if column in ("mode", "stage") else "right")
    for row in rows:
        peaks = ", ".join(f"{name} {gb:.2f}" for name, gb in row["peaks"].items())
        table.add_row(
            f"{row['size']:,}",
            row["mode"],
            row["stage"],
            f"{row['invoices']:,}" if row["invoices"] else "",
            f"{row['seconds']:.1f}",
            peaks,
        )
    console.print(table)
    sizes = sorted({row["size"] for row in rows})
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        for mode in dict.fromkeys(row["mode"] for row in rows):
            for stage in ("features", "training", "scoring"):
                times = {
                    row["size"]: row["seconds"]
                    for row in rows
                    if row["mode"] == mode and row["stage"] == stage
                }
                if small in times and large in times:
                    console.print(
                        f"{mode} {stage}: {large / small:.0f}x the invoices took "
                        f"{times[large] / times[small]:.1f}x the time"
                    )


if __name__ == "__main__":
    sys.exit(main())
