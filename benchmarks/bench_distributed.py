"""The Dask back end against one machine: features, training and scoring at 1M and 10M invoices.

    python benchmarks/bench_distributed.py [--invoices 1000000 10000000] [--workers 2]

For each size it generates (or reuses from ``benchmarks/results/cache/``) a Parquet ledger
with ``generate_ledger`` and writes it as a customer-partitioned dataset with the importer's
checks (``latepay import --dask``'s :func:`~latepay.distributed.importing.import_to_dataset`).
Then, each in a fresh process:

- **one machine**: the whole ledger in one process; features of every invoice with a known
  outcome (:func:`~latepay.models.training.training_data`) and the gbm fit; then, in another
  process, every invoice scored as of its issue date by :func:`~latepay.scoring.score_invoices`
  in chunks of customers (as ``latepay score`` does), written as Parquet;
- **Dask**: a ``LocalCluster`` of ``--workers`` single-threaded worker processes; the same
  three stages by :mod:`latepay.distributed` (features persisted on the workers, the fit with
  LightGBM's Dask estimators, scores written as a Parquet folder).

Both score with the model of the first arm that fitted one (``--modes single dask``: the one
machine's; ``--modes dask single``: the cluster's), so the scoring stages do the same work.
When the machine's available memory falls below ``MEMORY_FLOOR_GB`` (1.5 GB), the running arm
is killed and its stage recorded as out of memory: at 10M the one-machine fit does not fit in
24 GiB, and with ``--modes dask single`` its scoring still runs, with the cluster's model.
LightGBM uses one thread per process (``n_jobs=1``; a Dask worker has one thread), so the
cluster has as many cores as workers. Memory is the peak resident set of every process
(the driver and each worker), sampled with psutil every 0.2 s; a stage's figure is the
largest of its processes. Target: 10M invoices scored end to end (the Dask arm's scoring
stage: features as of each issue date, the model, the Parquet output) with no process above
8 GB; other stages above 8 GB are printed as notes. Exit code 1 when the target is missed.
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
_STAGES = {
    "single": ("load ledger", "features", "training"),
    "single-scoring": ("load ledger", "scoring"),
    "dask": ("start cluster", "features", "training", "scoring"),
    "dask-scoring": ("start cluster", "scoring"),
}
#: An arm is killed (and recorded as out of memory) when the machine has less than this left.
MEMORY_FLOOR_GB = 1.5
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
            if options.model:
                shutil.copytree(options.model, Path(scratch) / "model")
            for mode in options.modes:
                if options.model:
                    children = [f"{mode}-scoring"]
                else:
                    children = ["single", "single-scoring"] if mode == "single" else [mode]
                for child in children:
                    arm = "single" if mode == "single" else f"dask:{options.workers}"
                    figures = _run_child(child, options.workers, dataset, Path(scratch))
                    rows += [{"size": invoices, "mode": arm, **row} for row in figures]
                    console.print(f"  {child}: done")
    _print_table(console, rows, options.workers)
    for row in rows:
        if "failed" in row:
            console.print(f"{row['size']:,} {row['mode']} {row['stage']}: {row['failed']}")
    dask_scoring = [r for r in rows if r["mode"] != "single" and r["stage"] == "scoring"]
    over = [r for r in dask_scoring if r["peak_gb"] > MEMORY_TARGET_GB]
    for row in rows:
        if (
            row["mode"] != "single"
            and row["stage"] != "scoring"
            and row["peak_gb"] > MEMORY_TARGET_GB
        ):
            console.print(
                f"note: {row['size']:,} {row['mode']} {row['stage']} peaked at "
                f"{row['peak_gb']:.2f} GB in one process (the target is on scoring)"
            )
    scored_10m = [r for r in dask_scoring if r["size"] >= 10**7]
    missed = over or (10**7 in options.invoices and "dask" in options.modes and not scored_10m)
    return 1 if missed else 0


def _parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--modes", nargs="+", choices=("single", "dask"), default=["single", "dask"]
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="a saved gbm folder to score with: the fitting stages are skipped",
    )
    parser.add_argument("--child", nargs=4, metavar=("MODE", "WORKERS", "DATASET", "SCRATCH"))
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


def _run_child(mode: str, workers: int, dataset: Path, scratch: Path) -> list[dict]:
    """Run one arm in a fresh process; its stages as they finish, or where memory ran out.

    The child prints one JSON line per finished stage. When the machine's available memory
    falls below :data:`MEMORY_FLOOR_GB` the child (with any workers) is killed, so that an arm
    too big for this machine is recorded as such instead of taking the machine down.
    """
    command = [sys.executable, __file__, "--child", mode, str(workers), str(dataset), str(scratch)]
    with tempfile.TemporaryFile("w+") as errors:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        rows: list[dict] = []
        reader = threading.Thread(target=lambda: rows.extend(map(json.loads, child.stdout)))
        reader.start()
        started, killed_at = time.perf_counter(), None
        with PeakMemory({"process": child.pid}) as memory:
            while child.poll() is None:
                available = psutil.virtual_memory().available / GB
                if available < MEMORY_FLOOR_GB:
                    _kill_tree(child.pid)
                    killed_at = available
                    break
                time.sleep(0.5)
            child.wait()
        reader.join()
        if killed_at is not None:
            done = sum(row["seconds"] for row in rows)
            running = _STAGES[mode][len(rows)] if len(rows) < len(_STAGES[mode]) else "cleanup"
            rows.append(
                {
                    "stage": f"{running}: out of memory",
                    "invoices": 0,
                    "seconds": time.perf_counter() - started - done,
                    "peaks": {"driver": memory.peaks["process"] / GB},
                    "peak_gb": memory.peaks["process"] / GB,
                    "failed": f"killed when the machine had {killed_at:.1f} GB left",
                }
            )
        elif child.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{mode} failed:\n{errors.read()[-3000:]}")
    return rows


def _kill_tree(pid: int) -> None:
    parent = psutil.Process(pid)
    for process in [*parent.children(recursive=True), parent]:
        process.kill()


def _child(mode: str, workers: str, dataset_path: str, scratch: str) -> int:
    from latepay.distributed.dataset import LedgerDataset

    dataset = LedgerDataset.open(Path(dataset_path))

    def report(row: dict) -> None:
        print(json.dumps(row), flush=True)

    if mode == "single":
        _single_machine_training(dataset, Path(scratch), report)
    elif mode == "single-scoring":
        _single_machine_scoring(dataset, Path(scratch), report)
    else:
        _on_dask(dataset, Path(scratch), report, workers=int(workers), fit=mode == "dask")
    return 0


def _single_machine_training(dataset, scratch: Path, report) -> None:
    """One process: the whole ledger, the features of every labelled invoice, the gbm fit."""
    from latepay.features.labels import DEFAULT_SPEC
    from latepay.models.training import make_model, training_data

    stage = _stages({"driver": os.getpid()}, report)
    ledger = stage("load ledger", lambda: _whole_ledger(dataset))

    def features():
        data = training_data(ledger, cutoff=dataset.as_of, spec=DEFAULT_SPEC)
        return data, len(data.is_late)

    data = stage("features", features)

    def training():
        return make_model("gbm", **MODEL_PARAMS).fit(data), len(data.is_late)

    model = stage("training", training)
    if not (scratch / "model").is_dir():  # an arm run before may have left its model to share
        model.save(scratch / "model")


def _single_machine_scoring(dataset, scratch: Path, report) -> None:
    """One process: every invoice scored as of its issue date, in chunks of customers."""
    from latepay.models.gbm import GradientBoostingLateModel
    from latepay.scoring import score_invoices

    if not (scratch / "model").is_dir():  # the fit ran out of memory and no other arm ran first
        return
    model = GradientBoostingLateModel.load(scratch / "model")
    model.version_ = "benchmark"
    stage = _stages({"driver": os.getpid()}, report)
    ledger = stage("load ledger", lambda: _whole_ledger(dataset))

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
    shutil.rmtree(scratch / "single-scores", ignore_errors=True)


def _whole_ledger(dataset):
    import pandas as pd

    from latepay.distributed.dataset import CUSTOMER_TABLES, bucket_ledger

    tables = [pd.read_parquet(dataset.path / name) for name in CUSTOMER_TABLES]
    tables = [t.drop(columns="customer_bucket", errors="ignore") for t in tables]
    ledger = bucket_ledger(*tables, indicators=dataset.indicators())
    return ledger, len(ledger.invoices)


def _stages(pids: dict[str, int], report):
    """A function that times one stage, samples the memory of ``pids`` and reports the row."""

    def stage(name: str, work):
        started = time.perf_counter()
        with PeakMemory(pids) as memory:
            result, invoices = work()
        report(_row(name, invoices, time.perf_counter() - started, memory.peaks))
        return result

    return stage


def _on_dask(dataset, scratch: Path, report, *, workers: int, fit: bool = True) -> None:
    from latepay.distributed.cluster import dask_client
    from latepay.distributed.scoring import IssuedFrom, score_on_dask, write_scores
    from latepay.models.gbm import GradientBoostingLateModel

    started = time.perf_counter()
    with dask_client(f"local:{workers}") as client:
        pids = {"driver": os.getpid()}
        for position, pid in enumerate(client.run(os.getpid).values()):
            pids[f"worker {position + 1}"] = pid
        report(_row("start cluster", 0, time.perf_counter() - started, {}))
        stage = _stages(pids, report)
        if fit:
            _fit_on_dask(client, dataset, scratch, stage)
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


def _fit_on_dask(client, dataset, scratch: Path, stage) -> None:
    """Features persisted on the workers, then the fit; the model saved unless one is there."""
    from latepay.distributed.features import training_rows
    from latepay.distributed.training import fit_gbm_on_dask
    from latepay.features.labels import DEFAULT_SPEC

    def features():
        persisted = client.persist(training_rows(dataset, cutoff=dataset.as_of, spec=DEFAULT_SPEC))
        return persisted, len(persisted)

    training = stage("features", features)

    def fit():
        model = fit_gbm_on_dask(client, training, spec=DEFAULT_SPEC, params=MODEL_PARAMS)
        return model, len(training)

    fitted = stage("training", fit)
    if not (scratch / "model").is_dir():  # no single-machine model (yet) to share
        fitted.save(scratch / "model")


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
