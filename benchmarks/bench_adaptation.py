"""Proof that self-retraining adapts: a frozen model vs. the retraining loop, month by month.

    python benchmarks/bench_adaptation.py [--customers 600] [--months 40] [--seed 0]
                                          [--lead-months 3] [--window-days 61]
                                          [--n-estimators 200] [--no-regime-change] [--fresh]

A generated ledger (``generate_ledger(..., regime_change=True)``, cached with its SQLite import
in ``benchmarks/results/cache/``) goes through a regime change: the generator's industry downturn
(a few industries' activity index falls by 14 to 20 points in the window at 55-80% of the
period, so their customers pay late more often) also changes how those industries pay, in
proportion to its depth: large invoices are held back, direct-debit mandates are revoked, and
half of their customers lose reliability (:mod:`latepay.synthetic.regime`). Meanwhile the policy
rate rises and 10% of all customers see their reliability deteriorate at random months.
``--no-regime-change`` replays the plain downturn instead. The ledger is replayed month by month
from ``--lead-months`` before the downturn starts, on a throw-away copy of the database and an
empty model folder:

- **retraining**: :func:`latepay.learning.retrain.retrain` itself, as ``latepay retrain`` runs
  it, with ``now`` at every month start and ``retrain_window_days`` set to ``--window-days``.
  At the replay's start there is no champion, so its challenger (a gbm trained on the labels
  known then) becomes the first one; at every later month start a challenger is trained on
  every label known then and replaces the champion only when ``retrain`` promotes it (its
  backtest twin, trained on the labels known before the trailing window, beats the champion
  on the window's invoices whose outcome is known). An earlier champion comes back when it
  beats both on the window (``rolled_back_to``);
- **frozen**: that first champion, never replaced;
- **newest** (for reference, not a policy latepay offers): each month's challenger served
  whatever the comparison said, the first model in the first month.

Each month both models score the invoices issued that month as of their issue dates
(``latepay.scoring.score_invoices``) and are compared with what happened: ROC AUC, ECE and
Brier score, next to the ROC AUC of the generator's true probabilities at issuance (the best
any model could do). Months are reported while every invoice issued in them has a known
outcome at the end of the ledger, by phase: before the downturn, in it (its window of months),
and in the recovery after it; the decision column marks the retrains whose champion had
trained on part of the window (its numbers there are optimistic). The verdict line compares each
arm's mean ROC AUC from the downturn on with its mean before it; exit code 1 when the retraining
model did not hold its own (its mean from the downturn on below its mean before, or below the
frozen model's over the same months).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from latepay.config import Settings
from latepay.db import make_engine, upgrade_to_head
from latepay.evaluation.metrics import classification_metrics
from latepay.features import labels_known_at, load_ledger
from latepay.ingest import import_mapping
from latepay.learning.retrain import RetrainDecision, retrain
from latepay.learning.train import model_params_for
from latepay.models.registry import ModelRegistry
from latepay.scoring import score_invoices
from latepay.synthetic import generate_ledger
from latepay.synthetic.economy import ACTIVITY_BASELINE, ACTIVITY_INDICATOR, downturn_window

HERE = Path(__file__).resolve().parent
CACHE = HERE / "results" / "cache"
START = date(2021, 1, 1)
#: An industry counts as hit when its activity index falls this far below the baseline.
HIT_DEPTH = 10.0


def main() -> int:
    """Run the replay and print the table; return the process exit code."""
    options = _parse_arguments()
    console = Console(width=200)
    started = time.perf_counter()
    database = _cached_database(options, console)
    with tempfile.TemporaryDirectory(prefix="bench-adaptation-") as scratch:
        # retrain() registers every challenger: in a copy, so the cached import stays as it was.
        copy = Path(scratch) / "latepay.db"
        shutil.copy(database, copy)
        settings = Settings(
            database_url=f"sqlite:///{copy}",
            model_dir=Path(scratch) / "models",
            retrain_window_days=options.window_days,
        )
        engine = make_engine(settings.database_url)
        try:
            rows = _replay(engine, settings, options, console)
        finally:
            engine.dispose()
    window = downturn_window(options.months)
    for row in rows:
        row["phase"] = _phase(row["month"], window)
    console.print(_table(rows))
    console.print(_summary(rows))
    verdict, held = _verdict(rows)
    console.print(verdict)
    console.print(f"total {time.perf_counter() - started:.0f} s")
    return 0 if held else 1


def _verdict(rows: list[dict]) -> tuple[str, bool]:
    """Whether retraining held its ROC AUC from the downturn on, against frozen; and the words.

    Held: its mean from the downturn on is at least its own mean before the downturn and at
    least the frozen model's mean over the same months.
    """
    before = [r for r in rows if r["phase"] == "before"]
    after = [r for r in rows if r["phase"] != "before"]

    def mean(model: str, months: list[dict]) -> float:
        return float(np.mean([r[model]["roc_auc"] for r in months]))

    changes = {
        model: mean(model, after) - mean(model, before) for model in ("frozen", "retraining")
    }
    ahead = sum(r["retraining"]["roc_auc"] >= r["frozen"]["roc_auc"] for r in after)
    held = changes["retraining"] >= 0 and mean("retraining", after) >= mean("frozen", after)
    words = (
        f"ROC AUC from the downturn on against before it: frozen {changes['frozen']:+.4f}, "
        f"retraining {changes['retraining']:+.4f}; retraining at or above frozen in {ahead} of "
        f"{len(after)} months; retraining {'held' if held else 'did not hold'} its ROC AUC"
    )
    return words, held


def _phase(month: pd.Timestamp, window: range) -> str:
    if month < _month_start(window.start):
        return "before"
    return "downturn" if month < _month_start(window.stop) else "recovery"


def _parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=600)
    parser.add_argument("--months", type=int, default=40, help="length of the generated period")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--lead-months", type=int, default=3, help="months replayed before the downturn starts"
    )
    parser.add_argument(
        "--window-days",
        type=int,
        default=61,
        help="retrain_window_days of every retrain: the days of newest invoices on which the "
        "challenger's twin and the champion are compared (the product's default is 90)",
    )
    parser.add_argument(
        "--n-estimators",
        type=int,
        default=200,
        help="most boosting rounds of every model (the product's default is 600; fewer keep "
        "the two fits of each month's retrain within minutes, and both arms get the same)",
    )
    parser.add_argument(
        "--half-life-days",
        type=float,
        default=None,
        help="recency_half_life_days of every model (LATEPAY_RECENCY_HALF_LIFE_DAYS); "
        "default: none, every invoice weighs alike",
    )
    parser.add_argument(
        "--regime-change",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="generate the ledger with the downturn's regime change (the default)",
    )
    parser.add_argument("--fresh", action="store_true", help="regenerate and re-import")
    return parser.parse_args()


def _ledger_folder(options: argparse.Namespace) -> Path:
    return _cache_folder(options) / "ledger"


def _cache_folder(options: argparse.Namespace) -> Path:
    regime = "-regime" if options.regime_change else ""
    return CACHE / f"adaptation-{options.customers}c-{options.months}m-seed{options.seed}{regime}"


def _cached_database(options: argparse.Namespace, console: Console) -> Path:
    """A SQLite database with the generated ledger imported (generated once, then reused)."""
    folder = _cache_folder(options)
    database = folder / "latepay.db"
    ready = folder / "ready"
    if ready.is_file() and not options.fresh:
        console.print(f"reusing the generated ledger and its database in {folder}")
        return database
    shutil.rmtree(folder, ignore_errors=True)
    summary = generate_ledger(
        folder / "ledger",
        customers=options.customers,
        seed=options.seed,
        start=START,
        months=options.months,
        regime_change=options.regime_change,
    )
    engine = make_engine(f"sqlite:///{database}")
    upgrade_to_head(engine)
    report = import_mapping(engine, _ledger_folder(options) / "mapping.yaml")
    engine.dispose()
    if not report.ok:
        raise SystemExit(f"import of the generated ledger failed: {report.errors[:3]}")
    console.print(
        f"ledger: {summary.invoices:,} invoices of {summary.customers:,} customers, "
        f"{summary.first_issue_date} to {summary.as_of}, imported into {database}"
    )
    ready.touch()
    return database


def _month_start(month_index: int) -> pd.Timestamp:
    return pd.Timestamp(START) + pd.DateOffset(months=month_index)


def _replay(
    engine, settings: Settings, options: argparse.Namespace, console: Console
) -> list[dict]:
    ledger = load_ledger(engine)
    spec = settings.label_spec()
    params = {
        **model_params_for("gbm", settings),
        "n_estimators": options.n_estimators,
        "recency_half_life_days": options.half_life_days,
    }
    registry = ModelRegistry(settings.model_dir, engine)
    first_month = downturn_window(options.months).start - options.lead_months
    console.print(f"industries hit by the downturn: {', '.join(_hit_industries(ledger))}")

    def retrain_at(month_start: pd.Timestamp) -> RetrainDecision:
        clock = time.perf_counter()
        decision = retrain(engine, settings, now=month_start, model_params=params)
        verdict = "promoted" if decision.promoted else "kept"
        if decision.rolled_back_to:
            verdict += f", rolled back to {decision.rolled_back_to}"
        console.print(
            f"{month_start:%Y-%m}: {decision.challenger} {verdict} "
            f"({time.perf_counter() - clock:.0f} s): {decision.reason}",
            highlight=False,
        )
        return decision

    first = retrain_at(_month_start(first_month))
    if not first.promoted:
        raise SystemExit(f"the first model did not become champion: {first.reason}")
    frozen = champion = registry.load(first.challenger)
    versions = {first.challenger: _month_start(first_month)}  # each model's retrain month

    invoices = ledger.invoices[~ledger.invoices["is_credit_note"]]
    outcomes = labels_known_at(invoices, ledger.as_of, spec)["is_late"]
    truth = pd.read_csv(_ledger_folder(options) / "truth.csv", dtype={"invoice_id": str}).set_index(
        "invoice_id"
    )["p_true"]
    rows = []
    for month in range(first_month, options.months):
        month_start, month_end = _month_start(month), _month_start(month + 1)
        issue = invoices["issue_date"]
        issued = invoices[(issue >= month_start) & (issue < month_end)]
        if not issued.index.isin(outcomes.index).all():
            break  # some outcomes are still unknown at the ledger's end: the month is not done
        decision = "-"
        newest = frozen
        if month > first_month:
            retrained = retrain_at(month_start)
            newest = registry.load(retrained.challenger)
            decision = "promoted" if retrained.promoted else "kept"
            if retrained.rolled_back_to:
                decision = f"rolled back to {_month_of(retrained.rolled_back_to, versions)}"
            if retrained.champion_saw_window:
                decision += " (champion saw window)"
            if retrained.promoted:
                champion = newest
            elif retrained.rolled_back_to:
                champion = registry.load(retrained.rolled_back_to)
            versions[retrained.challenger] = month_start
        y = outcomes.loc[issued.index].to_numpy()
        rows.append(
            {
                "month": month_start,
                "invoices": len(issued),
                "late_rate": float(y.mean()),
                "truth_auc": classification_metrics(
                    y, truth.loc[issued["invoice_id"]].to_numpy(), 0.5
                )["roc_auc"],
                "frozen": _measured(frozen, ledger, issued, y, settings),
                "retraining": _measured(champion, ledger, issued, y, settings),
                "newest": _measured(newest, ledger, issued, y, settings),
                "champion": champion.version_,
                "decision": decision,
            }
        )
    return rows


def _month_of(version: str, versions: dict[str, pd.Timestamp]) -> str:
    return f"the {versions[version]:%Y-%m} model"


def _measured(model, ledger, invoices: pd.DataFrame, y, settings: Settings) -> dict:
    """The model's numbers on ``invoices`` scored as of their issue dates (as retrain does)."""
    scored = score_invoices(
        model, ledger, invoices, tier_cutoffs=settings.risk_tier_cutoffs, reasons=0
    )
    return classification_metrics(np.asarray(y), scored["p_late"].to_numpy(), model.threshold_)


def _hit_industries(ledger) -> list[str]:
    indicators = ledger.indicators
    activity = indicators[indicators["name"] == ACTIVITY_INDICATOR]
    lowest = activity.groupby("key")["value"].min()
    return sorted(lowest[lowest < ACTIVITY_BASELINE - HIT_DEPTH].index)


def _table(rows: list[dict]) -> Table:
    table = Table(
        "month", "phase", "invoices", "late rate", "true-p AUC",
        "frozen AUC", "retraining AUC", "newest AUC", "frozen ECE", "retraining ECE",
        "frozen Brier", "retraining Brier", "retrain decision",
        title="Frozen vs. self-retraining gbm, invoices scored as of their issue dates",
    )  # fmt: skip
    for row in rows:
        frozen, retraining = row["frozen"], row["retraining"]
        table.add_row(
            f"{row['month']:%Y-%m}",
            row["phase"],
            f"{row['invoices']:,}",
            f"{row['late_rate']:.3f}",
            f"{row['truth_auc']:.4f}",
            f"{frozen['roc_auc']:.4f}",
            f"{retraining['roc_auc']:.4f}",
            f"{row['newest']['roc_auc']:.4f}",
            f"{frozen['ece']:.4f}",
            f"{retraining['ece']:.4f}",
            f"{frozen['brier']:.4f}",
            f"{retraining['brier']:.4f}",
            row["decision"],
        )
    return table


def _summary(all_rows: list[dict]) -> Table:
    table = Table(
        "months", "n", "true-p AUC", "frozen AUC", "retraining AUC", "newest AUC", "frozen ECE",
        "retraining ECE", "frozen Brier", "retraining Brier",
        title="Means over months",
    )  # fmt: skip
    phases = (
        ("before the downturn", ("before",)),
        ("in the downturn", ("downturn",)),
        ("in the recovery", ("recovery",)),
        ("from the downturn on", ("downturn", "recovery")),
    )
    for name, kept in phases:
        rows = [row for row in all_rows if row["phase"] in kept]
        if not rows:
            continue

        def mean(model: str, metric: str, rows=rows) -> str:
            return f"{np.mean([r[model][metric] for r in rows]):.4f}"

        table.add_row(
            name,
            str(len(rows)),
            f"{np.mean([r['truth_auc'] for r in rows]):.4f}",
            mean("frozen", "roc_auc"),
            mean("retraining", "roc_auc"),
            mean("newest", "roc_auc"),
            mean("frozen", "ece"),
            mean("retraining", "ece"),
            mean("frozen", "brier"),
            mean("retraining", "brier"),
        )
    return table


if __name__ == "__main__":
    sys.exit(main())
