"""Learning-core targets: accuracy on real and generated data, and speed at scale.

    python benchmarks/bench_learning.py [--generated-customers 1000] [--scale-customers 10000]
                                        [--ratio-customers 1000] [--skip-scale]

1. IBM sample: backtest with the newest 25% of invoices as test; gbm vs seed.
2. Generated ledger (~100k invoices): gbm's ROC AUC against the AUC of the generator's true
   probabilities on the same test invoices, and gbm's calibration error (ECE).
3. Scale (~1M generated invoices): features + gbm training wall time and peak memory, each
   stage in a fresh process.
4. Speed ratio: seed and gbm fitted on the same training data (``--ratio-customers``, ~100k
   invoices by default: SMOTE + Random Forest on 1M rows takes most of an hour here).

Everything goes through the product's own path: generate, ``import_mapping`` into SQLite,
``load_ledger``, ``run_backtest`` / ``training_data`` and the models.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from peak_memory import peak_rss_bytes
from rich.console import Console
from rich.table import Table

from latepay.config import Settings
from latepay.db import make_engine, upgrade_to_head
from latepay.evaluation.backtest import default_cutoff, run_backtest
from latepay.evaluation.metrics import classification_metrics
from latepay.features import load_ledger
from latepay.ingest import import_mapping
from latepay.synthetic import generate_ledger

REPO = Path(__file__).resolve().parents[1]
IBM_MAPPING = REPO / "examples" / "ibm-ar" / "mapping.yaml"
INVOICES_PER_CUSTOMER = 100


def _ledger_from_mapping(mapping: Path, database: Path):
    engine = make_engine(f"sqlite:///{database}")
    upgrade_to_head(engine)
    report = import_mapping(engine, mapping)
    if not report.ok:
        raise SystemExit(f"import of {mapping} failed: {report.errors[:3]}")
    return load_ledger(engine)


def _backtest_row(name: str, ledger, kind: str, truth: pd.Series | None = None) -> dict:
    settings = Settings()
    cutoff = default_cutoff(ledger)
    started = time.perf_counter()
    result = run_backtest(
        ledger,
        cutoff=cutoff,
        kind=kind,
        spec=settings.label_spec(),
        tier_cutoffs=settings.risk_tier_cutoffs,
    )
    elapsed = time.perf_counter() - started
    y = result.outcomes["is_late"].to_numpy()
    p = result.predictions.loc[result.outcomes.index, "p_late"].to_numpy()
    metrics = classification_metrics(y, p, result.model.threshold_)
    row = {
        "data": name,
        "model": kind,
        "train": result.training_rows,
        "test": len(y),
        "roc_auc": metrics["roc_auc"],
        "pr_auc": metrics["pr_auc"],
        "accuracy": metrics["accuracy"],
        "ece": metrics["ece"],
        "seconds": elapsed,
    }
    if truth is not None:
        ids = ledger.invoices.loc[result.outcomes.index, "invoice_id"]
        oracle = classification_metrics(y, truth.loc[ids].to_numpy(), 0.5)
        row["oracle_auc"] = oracle["roc_auc"]
    return row


def accuracy_rows(generated_customers: int, scratch: Path) -> list[dict]:
    rows = []
    if IBM_MAPPING.exists():
        ibm = _ledger_from_mapping(IBM_MAPPING, scratch / "ibm.db")
        rows += [_backtest_row("IBM sample", ibm, kind) for kind in ("seed", "gbm")]
    folder = scratch / "generated"
    generate_ledger(folder, customers=generated_customers, seed=0)
    ledger = _ledger_from_mapping(folder / "mapping.yaml", scratch / "generated.db")
    truth = pd.read_csv(folder / "truth.csv", dtype={"invoice_id": str}).set_index("invoice_id")
    name = f"generated {len(ledger.invoices):,}"
    rows += [_backtest_row(name, ledger, kind, truth["p_true"]) for kind in ("seed", "gbm")]
    return rows


def _child_stage(database: str, stage: str) -> None:
    """Run one scale stage in this fresh process and print its figures as JSON."""
    from latepay.features import build_features
    from latepay.models.training import make_model, training_data

    engine = make_engine(f"sqlite:///{database}")
    ledger = load_ledger(engine)
    started = time.perf_counter()
    if stage == "features":
        build_features(ledger, ledger.invoices)
        figures = {"rows": len(ledger.invoices)}
    else:
        data = training_data(ledger, cutoff=ledger.as_of)
        features_done = time.perf_counter()
        make_model(stage).fit(data)
        figures = {"rows": len(data.is_late), "fit_seconds": time.perf_counter() - features_done}
    figures["seconds"] = time.perf_counter() - started
    figures["peak_rss_mb"] = peak_rss_bytes() / 1024**2
    print(json.dumps(figures))


def scale_rows(customers: int, scratch: Path, stages: list[str], console: Console) -> list[dict]:
    """Run ``stages`` on a generated ledger of ``customers``, each in a fresh process."""
    folder = scratch / f"scale-{customers}"
    generate_ledger(folder, customers=customers, seed=0)
    database = scratch / f"scale-{customers}.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade_to_head(engine)
    import_mapping(engine, folder / "mapping.yaml")
    rows = []
    for stage in stages:
        output = subprocess.run(
            [sys.executable, __file__, "--child", str(database), stage],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(output.stdout.strip().splitlines()[-1])
        rows.append({"stage": stage, **figures})
        console.print(f"{customers:,} customers, {stage}: {json.dumps(figures)}")
    return rows


def _print_accuracy(console: Console, rows: list[dict]) -> None:
    table = Table(title="Backtests (newest 25% of invoices as test)")
    columns = ["data", "model", "train", "test", "roc_auc", "oracle_auc", "pr_auc", "accuracy"]
    for column in [*columns, "ece", "seconds"]:
        table.add_column(column, justify="left" if column in ("data", "model") else "right")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in [*columns, "ece", "seconds"]))
    console.print(table)


def _print_scale(console: Console, rows: list[dict], title: str) -> None:
    table = Table(title=f"{title} (each stage in a fresh process; load from SQLite included)")
    for column in ("stage", "rows", "seconds", "fit_seconds", "peak_rss_mb"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for row in rows:
        table.add_row(
            *(_cell(row.get(c)) for c in ("stage", "rows", "seconds", "fit_seconds", "peak_rss_mb"))
        )
    console.print(table)
    fits = {row["stage"]: row.get("fit_seconds") for row in rows}
    if fits.get("seed") and fits.get("gbm"):
        console.print(f"seed / gbm training time: {fits['seed'] / fits['gbm']:.1f}x")


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated-customers", type=int, default=1000)
    parser.add_argument("--scale-customers", type=int, default=10_000)
    parser.add_argument("--ratio-customers", type=int, default=1000)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("DATABASE", "STAGE"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child_stage(*options.child)
        return
    console = Console(width=200)
    with tempfile.TemporaryDirectory(prefix="latepay-bench-") as scratch:
        _print_accuracy(console, accuracy_rows(options.generated_customers, Path(scratch)))
        if not options.skip_scale:
            rows = scale_rows(options.scale_customers, Path(scratch), ["features", "gbm"], console)
            _print_scale(console, rows, "Scale")
        ratio = scale_rows(options.ratio_customers, Path(scratch), ["gbm", "seed"], console)
        _print_scale(console, ratio, "seed vs gbm on the same data")


if __name__ == "__main__":
    main()
