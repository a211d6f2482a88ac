"""Scoring speed: ``latepay score`` end to end on ~1M invoices, and the model part alone.

    python benchmarks/bench_scoring.py [--invoices 1000000] [--file-invoices 1000000]
                                       [--reasons-invoices 20000] [--model-invoices 200000]
                                       [--fresh]

Prepares, or reuses from ``benchmarks/results/cache/``, a generated ledger of about
``--invoices`` invoices (``generate_ledger``), a SQLite database it was imported into with
``latepay import`` and a gbm champion trained on it with ``latepay train`` (``--fresh``
rebuilds the database and model). Each run scores on a copy of that database, so the scores
it records never pile up in the cache. Then it times:

1. ``latepay score --open``: every open invoice of the database, with 3 reasons each;
2. ``latepay score FILE --reasons 0`` on a file of ``--file-invoices`` new invoices (the
   ledger's invoices moved three years on, so each is scored against the whole history),
   as the first scoring after a promotion: the champion's boosters are compiled to machine
   code (``latepay.models.compiled``) and kept in a cache folder of the benchmark's own;
3. ``latepay score FILE`` with 3 reasons each, on the first ``--reasons-invoices`` of them:
   reasons are LightGBM's exact TreeSHAP contributions, which cost far more than the score;
4. run 2 again, loading the machine code kept by it;
5. the model part alone: ``predict_outcome`` on the prepared features of ``--model-invoices``
   new invoices (features built once, not timed): the first call and the median of 3 calls
   after it; and, for the reasons, ``contributions`` on 5,000 of them.

Each ``latepay`` run is a subprocess of the real command: its wall time and its own peak
memory (``wait4``). Targets: 1M invoices scored end to end within 60 s; the model part at
200,000 invoices/s or more.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from rich.console import Console
from rich.table import Table

from latepay.synthetic import generate_ledger

HERE = Path(__file__).resolve().parent
CACHE = HERE / "results" / "cache"
LATEPAY = shutil.which("latepay") or str(Path(sys.executable).with_name("latepay"))
INVOICES_PER_CUSTOMER = 100  # what generate_ledger gives a typical customer over 36 months
DAYS_MOVED = 3 * 365 + 1  # the new invoices: the ledger's, three years on
END_TO_END_TARGET_SECONDS = 60.0
END_TO_END_TARGET_INVOICES = 1_000_000
MODEL_TARGET_PER_SECOND = 200_000
MODEL_RUNS = 3
CONTRIBUTION_INVOICES = 5_000


def main() -> int:
    """Run the benchmark; return the process exit code (1 when a target is missed)."""
    options = _parse_arguments()
    if options.child_model:
        return _child_model(*options.child_model)
    console = Console(width=200)
    customers = max(1, options.invoices // INVOICES_PER_CUSTOMER)
    ledger = _cached_ledger(customers, console)
    prepared = _cached_database(ledger, customers, fresh=options.fresh, console=console)
    with tempfile.TemporaryDirectory(prefix="latepay-bench-") as scratch_name:
        scratch = Path(scratch_name)
        database = scratch / "latepay.db"
        shutil.copyfile(prepared / "latepay.db", database)
        url = f"sqlite:///{database}"
        env = {**os.environ, "LATEPAY_MODEL_DIR": str(prepared / "models")}
        new_invoices = _new_invoices(ledger / "invoices.csv", scratch, options.file_invoices)
        reasons_file = _head(new_invoices, scratch / "reasons.csv", options.reasons_invoices)
        model_file = _head(new_invoices, scratch / "model.csv", options.model_invoices)
        # The runs keep machine code in a cache folder of their own, empty at first: the
        # first scoring of the file after a promotion compiles, the last one loads the code.
        env["XDG_CACHE_HOME"] = str(scratch / "cache")
        score_file = ["score", str(new_invoices), "--reasons", "0"]
        results = [
            _time_cli("score --open (3 reasons)", url, env, ["score", "--open"], scratch),
            _time_cli("score FILE --reasons 0, compiling", url, env, score_file, scratch),
            _time_cli("score FILE (3 reasons)", url, env, ["score", str(reasons_file)], scratch),
            _time_cli("score FILE --reasons 0, compiled", url, env, score_file, scratch),
        ]
        results += _model_part(database, prepared / "models", model_file, env)
    console.print(_table(results))
    return 0 if all(r["target_met"] is not False for r in results) else 1


def _parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000, help="ledger size, about")
    parser.add_argument("--file-invoices", type=int, default=1_000_000)
    parser.add_argument("--reasons-invoices", type=int, default=20_000)
    parser.add_argument("--model-invoices", type=int, default=200_000)
    parser.add_argument("--fresh", action="store_true", help="re-import and re-train")
    parser.add_argument("--child-model", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args()


def _cached_ledger(customers: int, console: Console) -> Path:
    folder = CACHE / f"ledger-{customers}-seed0"
    if not (folder / "mapping.yaml").is_file():
        started = time.perf_counter()
        summary = generate_ledger(folder, customers=customers, seed=0)
        console.print(
            f"ledger: {summary.invoices:,} invoices of {summary.customers:,} customers in "
            f"{folder} ({time.perf_counter() - started:.0f} s)"
        )
    return folder


def _cached_database(ledger: Path, customers: int, *, fresh: bool, console: Console) -> Path:
    """A folder with ``latepay.db`` (the ledger imported) and ``models/`` (a gbm champion)."""
    folder = CACHE / f"scoring-{customers}-seed0"
    ready = folder / "ready"
    if ready.is_file() and not fresh:
        console.print(f"reusing the database and champion in {folder}")
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    url = f"sqlite:///{folder / 'latepay.db'}"
    env = {**os.environ, "LATEPAY_MODEL_DIR": str(folder / "models")}
    for step in (["import", str(ledger / "mapping.yaml")], ["train"]):
        started = time.perf_counter()
        subprocess.run([LATEPAY, "--db", url, *step], env=env, check=True, capture_output=True)
        console.print(f"latepay {step[0]}: {time.perf_counter() - started:.0f} s (not timed)")
    ready.touch()
    return folder


def _new_invoices(invoices_csv: Path, scratch: Path, count: int) -> Path:
    """The first ``count`` invoices (credit notes left out) as new ones, three years on."""
    text = pa.string()
    table = pa_csv.read_csv(
        invoices_csv,
        convert_options=pa_csv.ConvertOptions(
            column_types={"invoice_id": text, "customer_id": text, "amount": pa.float64()}
        ),
    )
    table = table.filter(pc.greater(table["amount"], 0)).slice(0, count)
    moved = {}
    for name in table.column_names:
        column = table[name]
        if name == "invoice_id":
            column = pc.binary_join_element_wise("NEW-", column, "")
        elif name in ("issue_date", "due_date"):
            moment = pc.cast(pc.cast(column, pa.date32()), pa.timestamp("ms"))
            later = pc.add(moment, pa.scalar(DAYS_MOVED * 86_400_000, pa.duration("ms")))
            column = pc.cast(later, pa.date32())
        moved[name] = column
    path = scratch / "new-invoices.csv"
    pa_csv.write_csv(pa.table(moved), path)
    return path


def _head(path: Path, out: Path, rows: int) -> Path:
    with path.open(encoding="utf-8") as source, out.open("w", encoding="utf-8") as target:
        for _, line in zip(range(rows + 1), source, strict=False):
            target.write(line)
    return out


def _time_cli(name: str, url: str, env: dict, arguments: list[str], scratch: Path) -> dict:
    output = scratch / "scores.csv"
    command = [LATEPAY, "--db", url, "--json", *arguments, "--output", str(output)]
    with (scratch / "stdout").open("w") as stdout, (scratch / "stderr").open("w") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
        # wait4 gives this child's own resource use: its peak resident memory.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{(scratch / 'stderr').read_text()}")
    scored = json.loads((scratch / "stdout").read_text())["scored"]
    at_target_size = scored >= END_TO_END_TARGET_INVOICES
    return {
        "run": f"latepay {name}",
        "invoices": scored,
        "seconds": seconds,
        "per_second": scored / seconds,
        "peak_bytes": usage.ru_maxrss * 1024,
        "target": f"<= {END_TO_END_TARGET_SECONDS:.0f} s at 1M" if at_target_size else "",
        "target_met": seconds <= END_TO_END_TARGET_SECONDS if at_target_size else None,
    }


def _model_part(database: Path, model_dir: Path, invoices_file: Path, env: dict) -> list[dict]:
    completed = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child-model",
            str(database),
            str(model_dir),
            str(invoices_file),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"model part failed:\n{completed.stderr}")
    figures = json.loads(completed.stdout.splitlines()[-1])
    predict_rate = figures["invoices"] / figures["predict_seconds"]
    return [
        {
            "run": "predict_outcome, first call (loads kept code)",
            "invoices": figures["invoices"],
            "seconds": figures["first_predict_seconds"],
            "per_second": figures["invoices"] / figures["first_predict_seconds"],
            "peak_bytes": None,
            "target": "",
            "target_met": None,
        },
        {
            "run": f"predict_outcome, median of {MODEL_RUNS} after",
            "invoices": figures["invoices"],
            "seconds": figures["predict_seconds"],
            "per_second": predict_rate,
            "peak_bytes": None,
            "target": f">= {MODEL_TARGET_PER_SECOND:,}/s",
            "target_met": predict_rate >= MODEL_TARGET_PER_SECOND,
        },
        {
            "run": "contributions (TreeSHAP, for reasons)",
            "invoices": figures["contribution_invoices"],
            "seconds": figures["contribution_seconds"],
            "per_second": figures["contribution_invoices"] / figures["contribution_seconds"],
            "peak_bytes": None,
            "target": "",
            "target_met": None,
        },
    ]


def _child_model(database: str, model_dir: str, invoices_file: str) -> int:
    """Time the model on prepared features, in this fresh process; print figures as JSON."""
    from latepay.db import make_engine
    from latepay.features import build_features, load_ledger
    from latepay.models.registry import ModelRegistry
    from latepay.scoring.files import read_invoice_file

    engine = make_engine(f"sqlite:///{database}")
    model = ModelRegistry(Path(model_dir), engine).load_champion()
    ledger = load_ledger(engine)
    invoices = read_invoice_file(Path(invoices_file), model).invoices
    features = build_features(ledger, invoices, grace_days=model.spec_.grace_days)
    started = time.perf_counter()
    model.predict_outcome(features)
    first = time.perf_counter() - started
    runs = []
    for _ in range(MODEL_RUNS):
        started = time.perf_counter()
        model.predict_outcome(features)
        runs.append(time.perf_counter() - started)
    sample = features.iloc[:CONTRIBUTION_INVOICES]
    started = time.perf_counter()
    model.contributions(sample)
    figures = {
        "invoices": len(features),
        "first_predict_seconds": first,
        "predict_seconds": statistics.median(runs),
        "contribution_invoices": len(sample),
        "contribution_seconds": time.perf_counter() - started,
    }
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


def _table(results: list[dict]) -> Table:
    table = Table(title="latepay scoring (SQLite; wall time of the whole command)")
    for column in ("run", "invoices", "seconds", "invoices/s", "peak MiB", "target", "met"):
        table.add_column(column, justify="left" if column in ("run", "target") else "right")
    for result in results:
        met = result["target_met"]
        table.add_row(
            result["run"],
            f"{result['invoices']:,}",
            f"{result['seconds']:.1f}",
            f"{result['per_second']:,.0f}",
            "-" if result["peak_bytes"] is None else f"{result['peak_bytes'] / 1024**2:,.0f}",
            result["target"] or "-",
            "-" if met is None else ("ok" if met else "MISSED"),
        )
    return table


if __name__ == "__main__":
    sys.exit(main())
