"""The ``latepay`` command line: thin commands over the library modules.

Errors a person can act on (:class:`latepay.errors.LatepayError`) are printed as one line on
stderr with a non-zero exit; ``--json`` switches output to machine-readable JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from latepay.config import Settings
from latepay.errors import LatepayError

app = typer.Typer(
    name="latepay",
    help="Predict which invoices will be paid late, explain why, and act on it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
error_console = Console(stderr=True)


@dataclass
class CliContext:
    settings: Settings
    json_output: bool

    def engine(self):
        from latepay.db import make_engine

        return make_engine(self.settings.database_url)

    def migrated_engine(self):
        from latepay.db import upgrade_to_head

        engine = self.engine()
        upgrade_to_head(engine)
        return engine

    def emit(self, data: dict[str, Any]) -> None:
        """Print ``data`` as JSON when --json was given (callers print tables otherwise)."""
        typer.echo(json.dumps(data, indent=2, default=str))


@app.callback()
def _global_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (default: LATEPAY_DATABASE_URL or sqlite)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON.")
    ] = False,
) -> None:
    overrides = {"database_url": db} if db else {}
    ctx.obj = CliContext(settings=Settings(**overrides), json_output=json_output)


def _progress_bar():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
    )


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database tables, or upgrade them to the newest schema."""
    cli: CliContext = ctx.obj
    cli.migrated_engine()
    if cli.json_output:
        cli.emit({"database": cli.settings.database_url, "status": "ready"})
    else:
        console.print(f"Database ready: {cli.settings.database_url}")


DaskAddress = Annotated[
    str | None,
    typer.Option(
        "--dask",
        help="Run on this Dask scheduler (tcp://host:8786), or 'local'/'local:N' for a local "
        "cluster; default LATEPAY_DASK_SCHEDULER. Needs --data.",
        show_default=False,
    ),
]
DataFolder = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="With --dask: the Parquet dataset folder import writes and the others read.",
        show_default=False,
    ),
]


def _dask_run(cli: CliContext, dask: str | None, data: Path | None) -> tuple[str, Path] | None:
    """(scheduler address, dataset folder) when running on Dask, None otherwise."""
    address = dask or cli.settings.dask_scheduler
    if address is None and data is None:
        return None  # without importing Dask: most runs are on one machine
    from latepay.distributed.commands import dataset_folder

    return address, dataset_folder(address, data)


def _emit_dask(cli: CliContext, result) -> None:
    if cli.json_output:
        cli.emit(result.data)
    else:
        console.print(result.message)


@app.command("import")
def import_(
    ctx: typer.Context,
    mapping: Annotated[Path, typer.Argument(help="Mapping YAML describing the export files.")],
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder the mapping's paths are relative to (default: its own)."),
    ] = None,
    dask: DaskAddress = None,
    data: DataFolder = None,
) -> None:
    """Import ERP/billing exports described by a column mapping (idempotent); with --dask,
    write them as the Parquet dataset --data instead of into the database."""
    cli: CliContext = ctx.obj
    if (dask_run := _dask_run(cli, dask, data)) is not None:
        from latepay.distributed.commands import import_dataset

        with error_console.status(f"Writing the dataset {dask_run[1]}"):
            report = import_dataset(mapping, dask_run[1], data_dir)
    else:
        report = _import_with_progress(cli.migrated_engine(), mapping, data_dir)
    if cli.json_output:
        cli.emit(report.to_dict())
    else:
        _print_import_report(report)
    if not report.ok:
        raise typer.Exit(code=1)


def _import_with_progress(engine, mapping: Path, data_dir: Path | None):
    """Import ``mapping`` with one progress bar per entity."""
    from latepay.ingest import import_mapping

    with _progress_bar() as progress:
        tasks: dict[str, Any] = {}

        def report_progress(entity: str, done: int, total: int) -> None:
            if entity not in tasks:
                tasks[entity] = progress.add_task(entity, total=total)
            progress.update(tasks[entity], completed=done, total=total)

        return import_mapping(engine, mapping, data_dir=data_dir, progress=report_progress)


def _print_import_report(report) -> None:
    table = Table(title="Import")
    for column in ("entity", "file", "inserted", "updated", "unchanged", "rejected"):
        table.add_column(column, justify="left" if column in ("entity", "file") else "right")
    for entity, counts in report.entities.items():
        if counts.skipped:
            table.add_row(entity, str(counts.file), "-", "-", "-", "-", style="dim")
            continue
        table.add_row(
            entity,
            str(counts.file),
            f"{counts.inserted:,}",
            f"{counts.updated:,}",
            f"{counts.unchanged:,}",
            f"{counts.rejected:,}",
        )
    console.print(table)
    for warning in report.warnings:
        error_console.print(f"[yellow]warning:[/] {warning}")
    for error in report.errors[:50]:
        error_console.print(f"[red]error:[/] {error}")
    if len(report.errors) > 50:
        error_console.print(f"[red]... and {len(report.errors) - 50:,} more errors[/]")
    if report.ok and report.nothing_changed:
        console.print("Nothing changed: every row was already imported.")


@app.command()
def generate(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Folder to write the ledger files into.")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 0,
    months: Annotated[int, typer.Option(min=1, help="Months of history.")] = 36,
    file_format: Annotated[
        str, typer.Option("--format", help="csv or parquet.", case_sensitive=False)
    ] = "csv",
    regime_change: Annotated[
        bool,
        typer.Option(
            help="Let the downturn also change how its industries pay (cash rationing, revoked "
            "direct-debit mandates, shaken reliability): a regime change that a model trained "
            "before it does not know."
        ),
    ] = False,
) -> None:
    """Write a realistic synthetic AR ledger, its mapping.yaml and the true probabilities."""
    from latepay.synthetic import generate_ledger

    cli: CliContext = ctx.obj
    if file_format not in ("csv", "parquet"):
        raise LatepayError(f"--format must be csv or parquet, got {file_format!r}")
    with _progress_bar() as progress:
        task = progress.add_task("generating", total=100)

        def report_progress(stage: str, fraction: float) -> None:
            progress.update(task, description=stage, completed=round(100 * fraction))

        summary = generate_ledger(
            out,
            customers=customers,
            seed=seed,
            months=months,
            file_format=file_format,
            regime_change=regime_change,
            progress=report_progress,
        )
    data = {
        "out": str(out),
        "customers": summary.customers,
        "invoices": summary.invoices,
        "payments": summary.payments,
        "late_rate": round(summary.late_rate, 4),
        "first_issue_date": summary.first_issue_date.isoformat(),
        "last_issue_date": summary.last_issue_date.isoformat(),
    }
    if cli.json_output:
        cli.emit(data)
    else:
        console.print(
            f"Wrote {summary.invoices:,} invoices of {summary.customers:,} customers to {out} "
            f"(late rate {summary.late_rate:.1%}); import with: latepay import {out}/mapping.yaml"
        )


@app.command()
def summary(ctx: typer.Context) -> None:
    """Show what the database holds: customers, invoices, late rate, date range."""
    cli: CliContext = ctx.obj
    _show_summary(cli)


def _show_summary(cli: CliContext) -> None:
    from latepay.db.summary import summarize_ledger

    ledger = summarize_ledger(cli.migrated_engine())
    if cli.json_output:
        cli.emit(ledger.to_dict())
        return
    table = Table(title="Ledger", show_header=False)
    table.add_row("customers", f"{ledger.customers:,}")
    table.add_row("invoices", f"{ledger.invoices:,}")
    table.add_row("  settled", f"{ledger.settled_invoices:,}")
    table.add_row("  open", f"{ledger.open_invoices:,}")
    table.add_row("payments", f"{ledger.payments:,}")
    rate = ledger.late_rate
    table.add_row("late rate (settled)", f"{rate:.1%}" if rate is not None else "-")
    table.add_row("issued from", str(ledger.first_issue_date or "-"))
    table.add_row("issued to", str(ledger.last_issue_date or "-"))
    console.print(table)


def _load_ledger(cli: CliContext):
    from latepay.errors import NotEnoughDataError
    from latepay.features import load_ledger

    with error_console.status("Reading the ledger"):
        ledger = load_ledger(cli.migrated_engine())
    if ledger.invoices.empty:
        raise NotEnoughDataError("the database has no invoices; run `latepay import` first")
    return ledger


def _day_or_newest_run(engine, as_of: str | None) -> dt.date:
    """The ``--as-of`` day, or by default the day of the newest scoring run."""
    from latepay.actions.worklist import default_as_of

    moment = _parse_date(as_of, "--as-of")
    return moment.date() if moment is not None else default_as_of(engine)


def _parse_date(value: str | None, option: str):
    import pandas as pd

    if value is None:
        return None
    try:
        return pd.Timestamp(value).normalize()
    except ValueError as error:
        raise LatepayError(f"{option} must be a date like 2024-06-01, got {value!r}") from error


ModelKind = Annotated[str, typer.Option("--model", help="gbm (default) or seed (the baseline).")]


def _check_kind(kind: str) -> None:
    if kind not in ("gbm", "seed"):
        raise LatepayError(f"--model must be gbm or seed, got {kind!r}")


def _check_dask_kind(kind: str) -> None:
    if kind != "gbm":
        raise LatepayError(f"--dask trains gbm only (LightGBM's Dask estimator), not {kind!r}")


@app.command()
def train(
    ctx: typer.Context,
    kind: ModelKind = "gbm",
    promote: Annotated[
        bool, typer.Option(help="Make the new model the champion that scoring uses.")
    ] = True,
    dask: DaskAddress = None,
    data: DataFolder = None,
) -> None:
    """Train a model on every outcome known today, measure it on a holdout, register it."""
    from latepay.learning.train import train_and_register

    cli: CliContext = ctx.obj
    _check_kind(kind)
    if (dask_run := _dask_run(cli, dask, data)) is not None:
        from latepay.distributed import commands

        _check_dask_kind(kind)
        with error_console.status("Training gbm on Dask"):
            result = commands.train(*dask_run, cli.migrated_engine(), cli.settings, promote=promote)
        _emit_dask(cli, result)
        return
    ledger = _load_ledger(cli)
    with error_console.status(f"Training {kind}"):
        run = train_and_register(cli.engine(), ledger, cli.settings, kind=kind, promote=promote)
    summary = {
        "version": run.version,
        "kind": run.kind,
        "training_rows": run.rows,
        "promoted": run.promoted,
        "holdout": {k: v for k, v in run.holdout_metrics.items() if k != "confusion_matrix"},
    }
    if cli.json_output:
        cli.emit(summary)
        return
    metrics = run.holdout_metrics
    console.print(
        f"Registered {run.version} ({run.rows:,} invoices"
        f"{', champion' if run.promoted else ''}). Holdout: ROC AUC {metrics['roc_auc']:.3f}, "
        f"PR AUC {metrics['pr_auc']:.3f}, Brier {metrics['brier']:.3f}, "
        f"accuracy {metrics['accuracy']:.3f}"
    )


@app.command()
def backtest(
    ctx: typer.Context,
    cutoff: Annotated[
        str | None,
        typer.Option(help="Train on what was known before this date (default: newest 25%)."),
    ] = None,
    output: Annotated[Path, typer.Option(help="CSV file for the predictions.")] = Path(
        "backtest.csv"
    ),
    kind: ModelKind = "gbm",
    dask: DaskAddress = None,
    data: DataFolder = None,
) -> None:
    """Train only on what was known before CUTOFF, score every invoice issued from it on."""
    from latepay.evaluation.backtest import default_cutoff, run_backtest
    from latepay.evaluation.metrics import classification_metrics

    cli: CliContext = ctx.obj
    _check_kind(kind)
    requested_cutoff = _parse_date(cutoff, "--cutoff")
    if (dask_run := _dask_run(cli, dask, data)) is not None:
        from latepay.distributed import commands

        _check_dask_kind(kind)
        with error_console.status("Backtesting gbm on Dask"):
            result = commands.backtest(
                *dask_run, cutoff=requested_cutoff, output=output, settings=cli.settings
            )
        _emit_dask(cli, result)
        return
    ledger = _load_ledger(cli)
    cutoff_day = requested_cutoff or default_cutoff(ledger)
    with error_console.status(f"Backtesting {kind} from {cutoff_day:%Y-%m-%d}"):
        result = run_backtest(
            ledger,
            cutoff=cutoff_day,
            kind=kind,
            spec=cli.settings.label_spec(),
            tier_cutoffs=cli.settings.risk_tier_cutoffs,
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    result.predictions[result.output_columns()].to_csv(output, index=False)
    scored = result.predictions.loc[result.outcomes.index, "p_late"].to_numpy()
    metrics = classification_metrics(
        result.outcomes["is_late"].to_numpy(), scored, result.model.threshold_
    )
    summary = {
        "cutoff": f"{cutoff_day:%Y-%m-%d}",
        "training_rows": result.training_rows,
        "scored": len(result.predictions),
        "with_known_outcome": len(result.outcomes),
        "output": str(output),
        **{k: v for k, v in metrics.items() if k != "confusion_matrix"},
    }
    if cli.json_output:
        cli.emit(summary)
        return
    console.print(
        f"Backtest of {kind} from {summary['cutoff']}: trained on {result.training_rows:,}, "
        f"scored {len(result.predictions):,} invoices ({len(result.outcomes):,} with a known "
        f"outcome) -> {output}\nROC AUC {metrics['roc_auc']:.3f}, PR AUC {metrics['pr_auc']:.3f}, "
        f"Brier {metrics['brier']:.3f}, ECE {metrics['ece']:.3f}, "
        f"accuracy {metrics['accuracy']:.3f}, F1 late {metrics['f1_late']:.3f}"
    )


@app.command()
def score(
    ctx: typer.Context,
    input_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="[INPUT]",
            help="File of new invoices (.csv, .csv.gz, .parquet), each scored as of its issue "
            "date; its columns are the canonical ones unless --mapping names them.",
            show_default=False,
        ),
    ] = None,
    open_: Annotated[
        bool, typer.Option("--open", help="Score every open invoice of the database instead.")
    ] = False,
    mapping: Annotated[
        Path | None,
        typer.Option(help="Import mapping whose invoices section names INPUT's columns."),
    ] = None,
    output: Annotated[Path, typer.Option(help="CSV file for the scores.")] = Path("scores.csv"),
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="With --open: score as of this date (default: the ledger's newest)."
        ),
    ] = None,
    reasons: Annotated[
        int,
        typer.Option(min=0, help="Reasons per invoice; 0 for none (explaining costs the most)."),
    ] = 3,
    dask: DaskAddress = None,
    data: DataFolder = None,
) -> None:
    """Score new invoices from INPUT, or the open ones (--open), with the champion; record them.
    With --dask, the scores go to a Parquet folder at --output and are not recorded."""
    from latepay.models.registry import ModelRegistry
    from latepay.scoring.batch import compile_ahead, score_open_invoices
    from latepay.scoring.files import read_invoice_file, score_invoice_file

    cli: CliContext = ctx.obj
    _check_score_options(input_file, open_, mapping, as_of)
    moment = _parse_date(as_of, "--as-of")
    engine = cli.migrated_engine()
    if (dask_run := _dask_run(cli, dask, data)) is not None:
        from latepay.distributed import commands

        with error_console.status("Scoring on Dask"):
            result = commands.score(
                *dask_run,
                engine,
                cli.settings,
                input_file=input_file,
                mapping=mapping,
                as_of=moment,
                output=output,
                reasons=reasons,
            )
        _emit_dask(cli, result)
        return
    model = ModelRegistry(cli.settings.model_dir, engine).load_champion()
    if input_file is not None:
        with error_console.status(f"Reading {input_file}"):
            invoice_file = read_invoice_file(input_file, model, mapping=mapping)
        compile_ahead(model, len(invoice_file.invoices))
    ledger = _load_ledger(cli)
    tier_cutoffs = cli.settings.risk_tier_cutoffs
    with _progress_bar() as progress:
        task = progress.add_task("scoring", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if input_file is None:
            moment = moment or ledger.as_of
            result = score_open_invoices(
                engine,
                model,
                ledger,
                as_of=moment,
                tier_cutoffs=tier_cutoffs,
                output=output,
                reasons=reasons,
                on_chunk=advance,
            )
        else:
            result = score_invoice_file(
                engine,
                model,
                ledger,
                invoice_file,
                tier_cutoffs=tier_cutoffs,
                output=output,
                reasons=reasons,
                on_chunk=advance,
            )
    if input_file is None:
        from latepay.actions.segment_history import SEGMENTS_LOCK, record_segment_changes
        from latepay.learning.retrain import exclusive_lock

        # Segments follow every scoring run of the open invoices, and keep their history.
        with exclusive_lock(engine, cli.settings.model_dir, SEGMENTS_LOCK):
            record_segment_changes(engine, cli.settings, as_of=moment.date())
    warnings = [] if input_file is None else invoice_file.warnings
    scored_what = (
        {"as_of": f"{moment:%Y-%m-%d}"} if input_file is None else {"input": str(input_file)}
    )
    if cli.json_output:
        cli.emit(
            {
                "scored": result.scored,
                **scored_what,
                "output": str(output),
                "model_version": result.model_version,
                "risk_tiers": result.risk_tiers,
                "warnings": warnings,
            }
        )
        return
    for warning in warnings:
        error_console.print(f"[yellow]warning:[/] {warning}")
    which = (
        f"open invoices as of {moment:%Y-%m-%d}"
        if input_file is None
        else f"invoices of {input_file} as of their issue dates"
    )
    console.print(
        f"Scored {result.scored:,} {which} with {result.model_version} -> {output}; "
        f"risk tiers: {result.risk_tiers}"
    )


def _check_score_options(
    input_file: Path | None, open_: bool, mapping: Path | None, as_of: str | None
) -> None:
    if input_file is None and not open_:
        raise LatepayError(
            "latepay score needs a file of invoices (INPUT) or --open for the open invoices"
        )
    if input_file is not None and open_:
        raise LatepayError(
            "latepay score takes either a file of invoices (INPUT) or --open, not both"
        )
    if open_ and mapping is not None:
        raise LatepayError("--mapping names the columns of INPUT; it does not apply to --open")
    if input_file is not None and as_of is not None:
        raise LatepayError(
            "--as-of applies to --open; the invoices of INPUT are scored as of their issue dates"
        )


@app.command()
def evaluate(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(help="HTML report to write.")] = Path("report.html"),
    cutoff: Annotated[
        str | None,
        typer.Option(help="Train before this date, test after (default: newest 25%)."),
    ] = None,
) -> None:
    """Backtest seed and gbm side by side and write the evaluation report."""
    from latepay.evaluation.comparison import compare_models

    cli: CliContext = ctx.obj
    requested_cutoff = _parse_date(cutoff, "--cutoff")
    ledger = _load_ledger(cli)
    with error_console.status("Backtesting seed and gbm"):
        comparison = compare_models(
            ledger,
            cutoff=requested_cutoff,
            settings=cli.settings,
            output=output,
            title=cli.settings.database_url,
        )
    if cli.json_output:
        cli.emit(comparison.to_dict())
        return
    _print_comparison(comparison)


def _print_comparison(comparison) -> None:
    table = Table(title=f"Backtest from {comparison.cutoff:%Y-%m-%d}")
    table.add_column("metric")
    for name in comparison.metrics:
        table.add_column(name, justify="right")
    for metric in ("roc_auc", "pr_auc", "brier", "ece", "accuracy", "f1_late", "threshold"):
        table.add_row(metric, *(f"{m[metric]:.3f}" for m in comparison.metrics.values()))
    table.add_row("training seconds", *(f"{s:.1f}" for s in comparison.training_seconds.values()))
    console.print(table)
    console.print(f"Report: {comparison.report_path}")


@app.command()
def demo(
    ctx: typer.Context,
    workdir: Annotated[
        Path, typer.Option(help="Folder for the demo's database, models and report.")
    ] = Path("demo-output"),
) -> None:
    """The main job on the bundled sample: import, backtest seed vs gbm, report, train the
    champion, score the open invoices and write the weekly dashboard report."""
    from latepay.actions.segment_history import record_segment_changes
    from latepay.dashboard.report import write_report
    from latepay.evaluation.comparison import compare_models
    from latepay.learning.train import train_and_register
    from latepay.models.registry import ModelRegistry
    from latepay.sample import sample_mapping_path
    from latepay.scoring.batch import score_open_invoices

    cli: CliContext = ctx.obj
    workdir.mkdir(parents=True, exist_ok=True)
    defaults = {
        "database_url": f"sqlite:///{workdir / 'latepay.db'}",
        "model_dir": workdir / "models",
    }
    cli.settings = cli.settings.model_copy(
        update={k: v for k, v in defaults.items() if k not in cli.settings.model_fields_set}
    )
    engine = cli.migrated_engine()
    report = _import_with_progress(engine, sample_mapping_path(), None)
    if not report.ok:
        _print_import_report(report)
        raise typer.Exit(code=1)
    if not cli.json_output:
        console.print(f"Imported the bundled sample into {cli.settings.database_url}")
        _show_summary(cli)
    ledger = _load_ledger(cli)
    with error_console.status("Backtesting seed and gbm on the newest 25% of invoices"):
        comparison = compare_models(
            ledger,
            cutoff=None,
            settings=cli.settings,
            output=workdir / "report.html",
            title="latepay demo: bundled synthetic sample",
        )
    with error_console.status("Training the champion gbm on everything known"):
        run = train_and_register(engine, ledger, cli.settings, kind="gbm")
    with error_console.status("Scoring the open invoices with the champion"):
        scores = score_open_invoices(
            engine,
            ModelRegistry(cli.settings.model_dir, engine).load_champion(),
            ledger,
            as_of=ledger.as_of,
            tier_cutoffs=cli.settings.risk_tier_cutoffs,
            output=workdir / "open-scores.csv",
        )
        record_segment_changes(engine, cli.settings, as_of=ledger.as_of.date())
    with error_console.status("Writing the weekly report"):
        weekly = write_report(
            engine, cli.settings, workdir / "weekly.html", as_of=ledger.as_of.date()
        )
    if cli.json_output:
        cli.emit(
            {
                "comparison": comparison.to_dict(),
                "champion": run.version,
                "open_invoices_scored": scores.scored,
                "weekly_report": str(weekly),
            }
        )
        return
    _print_comparison(comparison)
    console.print(f"Champion model: {run.version} in {cli.settings.model_dir}")
    console.print(
        f"Scored {scores.scored:,} open invoices into {workdir / 'open-scores.csv'}; "
        f"the weekly report (overview, risk, forecast, model) is {weekly}."
    )


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port, each with its own model and ledger "
            "snapshot (about one per core); /metrics, whichever answers, counts them all.",
        ),
    ] = 1,
    keep_alive: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds an idle connection stays open for the caller's next request. Behind "
            "a proxy or load balancer, make it longer than the proxy's own idle timeout: a "
            "request sent as the server closes the connection fails.",
        ),
    ] = 5,
) -> None:
    """Serve the HTTP API (GUIDE §5) with the champion model; Ctrl-C stops it."""
    import contextlib
    import copy
    import os
    import tempfile

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from latepay.api import create_app
    from latepay.api.metrics import SHARED_FOLDER_VARIABLE

    cli: CliContext = ctx.obj
    cli.migrated_engine().dispose()
    # latepay's own log lines (scheduled jobs, retrains) go where uvicorn's go, at INFO.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["latepay"] = {"handlers": ["default"], "level": "INFO"}
    with contextlib.ExitStack() as cleanup:
        if workers > 1:
            # Each worker process builds its own app from the environment, so the database
            # chosen with --db must be there, and the folder where they share their metrics.
            os.environ["LATEPAY_DATABASE_URL"] = cli.settings.database_url
            if not os.environ.get(SHARED_FOLDER_VARIABLE):
                shared = cleanup.enter_context(
                    tempfile.TemporaryDirectory(prefix="latepay-metrics-")
                )
                os.environ[SHARED_FOLDER_VARIABLE] = shared
        uvicorn.run(
            create_app(cli.settings) if workers == 1 else "latepay.api.app:create_app",
            factory=workers > 1,
            workers=workers,
            host=host,
            port=port,
            access_log=access_log,
            timeout_keep_alive=keep_alive,
            log_level="info",
            log_config=log_config,
            server_header=False,
        )


models_app = typer.Typer(
    help="The model registry: list versions, promote one.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(ctx: typer.Context) -> None:
    """Every registered model version, newest first, with its holdout ROC AUC."""
    from latepay.models.registry import ModelRegistry

    cli: CliContext = ctx.obj
    versions = ModelRegistry(cli.settings.model_dir, cli.migrated_engine()).versions()
    if cli.json_output:
        cli.emit({"models": [{k: v for k, v in row.items() if k != "path"} for row in versions]})
        return
    table = Table("version", "kind", "status", "ROC AUC", "created", "decision")
    for row in versions:
        auc = (row["metrics"] or {}).get("roc_auc")
        table.add_row(
            row["version"],
            row["kind"],
            row["status"],
            "" if auc is None else f"{auc:.4f}",
            f"{row['created_at']:%Y-%m-%d %H:%M}",
            row["decision"] or "",
        )
    console.print(table)


@models_app.command("promote")
def models_promote(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="The version to serve.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the decision).")],
) -> None:
    """Make a version the champion (roll forward or back); running servers swap to it."""
    from latepay.models.registry import ModelRegistry

    cli: CliContext = ctx.obj
    registry = ModelRegistry(cli.settings.model_dir, cli.migrated_engine())
    registry.promote(version, decision=f"promoted from the command line: {reason}")
    if cli.json_output:
        cli.emit({"champion": version})
        return
    console.print(f"Champion model: {version}")


keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="billing, collector, viewer or admin.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "",
) -> None:
    """Create an API key; it is shown once and stored only as a hash."""
    from latepay.api.keys import create_key

    cli: CliContext = ctx.obj
    key, info = create_key(cli.migrated_engine(), name=name or f"{role} key", role=role)
    if cli.json_output:
        cli.emit({"key": key, "id": info.id, "name": info.name, "role": info.role.value})
        return
    console.print(
        f"Created key {info.id} ({info.role.value}, {info.name!r}). Keep it now; "
        "it cannot be shown again:"
    )
    typer.echo(key)


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """List API keys (their first characters only)."""
    from latepay.api.keys import list_keys

    cli: CliContext = ctx.obj
    keys = list_keys(cli.migrated_engine())
    if cli.json_output:
        cli.emit(
            {
                "keys": [
                    {
                        "id": k.id,
                        "name": k.name,
                        "role": k.role.value,
                        "prefix": k.prefix,
                        "created_at": k.created_at,
                        "revoked_at": k.revoked_at,
                    }
                    for k in keys
                ]
            }
        )
        return
    table = Table("id", "name", "role", "starts with", "created", "revoked")
    for k in keys:
        table.add_row(
            str(k.id),
            k.name,
            k.role.value,
            k.prefix + "...",
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context, key_id: Annotated[int, typer.Argument(help="The key's id.")]
) -> None:
    """Revoke an API key; the API refuses it within seconds."""
    from latepay.api.keys import revoke_key

    cli: CliContext = ctx.obj
    info = revoke_key(cli.migrated_engine(), key_id)
    if cli.json_output:
        cli.emit({"id": info.id, "revoked_at": info.revoked_at})
        return
    console.print(f"Revoked key {info.id} ({info.name!r}).")


@app.command()
def remind(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Send what is due on this date (default: today)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; write and send nothing.")
    ] = False,
) -> None:
    """Send the reminders due today (or --as-of), one message per customer, each exactly once."""
    from latepay.actions.mail import SmtpMailer
    from latepay.actions.policies import load_policy
    from latepay.actions.reminders import plan_reminders, send_reminders

    cli: CliContext = ctx.obj
    day = (_parse_date(as_of, "--as-of") or dt.datetime.now(dt.UTC)).date()
    policy = load_policy(cli.settings.reminder_policy)
    engine = cli.migrated_engine()
    with error_console.status("Planning reminders"):
        planned = plan_reminders(engine, day, policy, settings=cli.settings)
    with _progress_bar() as progress:
        task = progress.add_task("reminders", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = send_reminders(
            engine, planned, SmtpMailer(cli.settings), dry_run=dry_run, on_progress=advance
        )
    if cli.json_output:
        cli.emit({"as_of": f"{day:%Y-%m-%d}", **report.to_dict()})
        return
    table = Table(title=f"Reminders {day:%Y-%m-%d}" + (" (dry run)" if dry_run else ""))
    for column in ("customer", "invoices", "step", "status"):
        table.add_column(column)
    for result in report.results:
        table.add_row(
            result.customer_id,
            ", ".join(result.invoice_ids),
            "\n".join(result.steps),
            result.status + (f": {result.error}" if result.error else ""),
        )
    console.print(table)
    counts = ", ".join(f"{n} {status}" for status, n in report.counts().items())
    console.print(counts or "Nothing due.")
    console.print(
        f"Holdout: {report.control_invoices} invoices kept as control (no proactive reminder) "
        f"this run; see `latepay holdout-report`."
    )


@app.command("holdout-report")
def holdout_report(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Day of the report: what was paid before it (default: today)."
        ),
    ] = None,
) -> None:
    """Treated vs. control (no proactive reminder): on-time rate and average days late of
    matured invoices."""
    from latepay.actions.holdout import holdout_report as compare_arms
    from latepay.actions.holdout import report_dict

    cli: CliContext = ctx.obj
    day = (_parse_date(as_of, "--as-of") or dt.datetime.now(dt.UTC)).date()
    summaries = compare_arms(cli.migrated_engine(), as_of=day, grace_days=cli.settings.grace_days)
    if cli.json_output:
        cli.emit({"as_of": f"{day:%Y-%m-%d}", **report_dict(summaries)})
        return
    table = Table(title=f"Holdout {day:%Y-%m-%d}: invoices that reached a proactive reminder")
    for column in ("arm", "eligible", "matured", "on time", "on-time rate", "avg days late"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for s in summaries:
        table.add_row(
            s.arm,
            str(s.eligible),
            str(s.matured),
            str(s.on_time),
            "-" if s.on_time_rate is None else f"{s.on_time_rate:.1%}",
            "-" if s.average_days_late is None else f"{s.average_days_late:.1f}",
        )
    console.print(table)


@app.command()
def incentives(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Day of the proposal (default: the newest scoring run's)."),
    ] = None,
) -> None:
    """Early-payment discounts worth offering: invoices predicted late of customers who
    answered reminders before, with the expected gain."""
    from latepay.actions.incentives import incentive_offers

    cli: CliContext = ctx.obj
    engine = cli.migrated_engine()
    day = _day_or_newest_run(engine, as_of)
    offers = incentive_offers(engine, as_of=day, settings=cli.settings)
    if cli.json_output:
        cli.emit({"as_of": f"{day:%Y-%m-%d}", "offers": [offer.to_dict() for offer in offers]})
        return
    table = Table(
        title=f"Early-payment discounts {day:%Y-%m-%d} "
        f"({cli.settings.discount_rate:.1%} discount, "
        f"{cli.settings.cost_of_capital:.1%} cost of capital a year)"
    )
    for column in ("invoice", "customer", "amount", "P(late)", "response", "discount", "gain"):
        table.add_column(column, justify="left" if column in ("invoice", "customer") else "right")
    for offer in offers:
        table.add_row(
            offer.invoice_id,
            offer.customer_id,
            f"{offer.amount:,.2f} {offer.currency or ''}".rstrip(),
            f"{offer.p_late:.0%}",
            f"{offer.response_rate:.0%} of {offer.trials}",
            f"{offer.discount:,.2f}",
            f"{offer.expected_gain:,.2f}",
        )
    console.print(table)
    console.print(f"{len(offers)} offers with a positive expected gain.")


@app.command("credit-terms")
def credit_terms(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Day of the proposal (default: the newest scoring run's)."),
    ] = None,
    customer: Annotated[
        list[str] | None, typer.Option("--customer", help="Only this customer (repeatable).")
    ] = None,
) -> None:
    """Credit terms that fit each customer's risk segment, with P(late) now and under the
    proposed terms (what-if scores of the champion model)."""
    from latepay.actions.credit_terms import recommend_credit_terms
    from latepay.models.registry import ModelRegistry

    cli: CliContext = ctx.obj
    engine = cli.migrated_engine()
    model = ModelRegistry(cli.settings.model_dir, engine).load_champion()
    day = _day_or_newest_run(engine, as_of)
    ledger = _load_ledger(cli)
    with error_console.status("Scoring the proposed terms"):
        proposals = recommend_credit_terms(
            engine, model, ledger, as_of=day, settings=cli.settings, customer_ids=customer
        )
    if cli.json_output:
        cli.emit({"as_of": f"{day:%Y-%m-%d}", "proposals": [p.to_dict() for p in proposals]})
        return
    table = Table(title=f"Credit terms {day:%Y-%m-%d}")
    for column in ("customer", "segment", "open balance", "proposed terms", "P(late) now", "after"):
        table.add_column(column)

    def percent(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    for proposal in proposals:
        table.add_row(
            proposal.customer_id,
            proposal.segment,
            f"{proposal.open_balance:,.2f}",
            "\n".join(
                f"{change.text} ({percent(change.p_late_after)})" for change in proposal.changes
            )
            or "keep the terms",
            percent(proposal.p_late_now),
            percent(proposal.p_late_proposed),
        )
    console.print(table)


@app.command()
def worklist(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Day of the list (default: the newest scoring run's)."),
    ] = None,
    collectors: Annotated[
        str | None,
        typer.Option(help="Comma-separated collectors to assign the work to, e.g. ana,ben."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Invoices to work to show.")] = 20,
    output: Annotated[
        Path | None, typer.Option(help="Also write every listed invoice to this CSV file.")
    ] = None,
) -> None:
    """Open invoices ranked by expected late amount, with the next action; promised and
    disputed invoices apart."""
    import pandas as pd

    from latepay.actions.worklist import build_worklist

    cli: CliContext = ctx.obj
    engine = cli.migrated_engine()
    day = _day_or_newest_run(engine, as_of)
    names = collectors.split(",") if collectors is not None else None
    with error_console.status("Building the worklist"):
        result = build_worklist(
            engine, as_of=day, settings=cli.settings, collectors=names, limit=limit
        )
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        rows = [{**item.to_dict(), "reasons": " ".join(item.reasons)} for item in result.items()]
        pd.DataFrame(rows).to_csv(output, index=False)
    if cli.json_output:
        cli.emit(result.to_dict())
        return
    table = Table(title=f"Worklist {day:%Y-%m-%d}")
    columns = (
        "rank", "invoice", "customer", "amount", "P(late)", "exp. days late", "priority",
        "action", "action date", "collector", "top reason",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in ("invoice", "customer"))
    for item in result.to_work:
        table.add_row(
            str(item.rank),
            item.invoice_id + (" (broken promise)" if item.broken_promise else ""),
            item.customer_id,
            f"{item.amount:,.2f} {item.currency or ''}".strip(),
            f"{item.p_late:.2f}",
            f"{item.expected_days_late:.1f}",
            f"{item.priority:,.0f}",
            item.action,
            f"{item.action_date:%Y-%m-%d}",
            item.collector or "",
            item.reasons[0] if item.reasons else "",
        )
    console.print(table)
    console.print(
        f"{result.to_work_total:,} to work (showing {len(result.to_work)}), "
        f"{len(result.promised)} under a promise to pay, {len(result.disputed)} disputed, "
        f"{result.unscored} open invoices never scored (run `latepay score --open`)."
    )
    for collector, load in result.collector_loads.items():
        console.print(f"{collector}: expected late amount {load:,.2f}")


@app.command()
def forecast(
    ctx: typer.Context,
    weeks: Annotated[int, typer.Option(min=1, max=104, help="Weeks to forecast.")] = 13,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="First day of the forecast (default: newest scoring run's)."),
    ] = None,
) -> None:
    """Expected cash-in per week with P10-P90 bands, by risk segment, and the reserve."""
    from latepay.planning.forecast import build_forecast

    cli: CliContext = ctx.obj
    engine = cli.migrated_engine()
    day = _day_or_newest_run(engine, as_of)
    with error_console.status("Forecasting cash-in"):
        result = build_forecast(engine, as_of=day, settings=cli.settings, weeks=weeks)
    if cli.json_output:
        cli.emit(result.to_dict())
        return
    for part in result.currencies:
        table = Table(
            "week", "from", "expected", "P10", "P50", "P90",
            *part.segments,
            title=f"Cash-in {part.currency} from {day:%Y-%m-%d}: {part.total.open_invoices:,} "
            f"open invoices, {part.total.open_amount:,.0f} outstanding",
        )  # fmt: skip
        for w, week in enumerate(part.total.weeks):
            by_segment = [f"{s.weeks[w].expected:,.0f}" for s in part.segments.values()]
            table.add_row(
                str(week.week),
                f"{week.start:%Y-%m-%d}",
                *(f"{v:,.0f}" for v in (week.expected, week.p10, week.p50, week.p90)),
                *by_segment,
            )
        console.print(table)
        reserve = part.reserve
        console.print(
            f"After week {result.weeks}: {part.total.after_horizon:,.0f} {part.currency}. "
            f"Expected >30 days late {reserve.total.expected_over_30:,.0f}, >90 days late "
            f"{reserve.total.expected_over_90:,.0f}; suggested reserve "
            f"{reserve.total.suggested_reserve:,.0f} {part.currency}."
        )
    console.print(
        f"{result.unpredicted_invoices} open invoices never scored were forecast from their "
        "customer's history (run `latepay score --open` to score them)."
    )


@app.command()
def report(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("weekly.html"),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Day of the report (default: the newest scoring run's)."),
    ] = None,
) -> None:
    """The dashboard's overview, risk, forecast and model pages as one offline HTML file."""
    from latepay.dashboard.report import write_report

    cli: CliContext = ctx.obj
    engine = cli.migrated_engine()
    day = _day_or_newest_run(engine, as_of)
    with error_console.status("Writing the report"):
        path = write_report(engine, cli.settings, output, as_of=day)
    if cli.json_output:
        cli.emit({"output": str(path), "as_of": day.isoformat(), "bytes": path.stat().st_size})
        return
    console.print(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB), as of {day:%Y-%m-%d}.")


@app.command()
def retrain(ctx: typer.Context) -> None:
    """Train a challenger, compare its backtest twin with the champion on the newest invoices
    with a known outcome, and promote it only if better by the margin and above the floor."""
    from latepay.learning.retrain import retrain as run_retrain

    cli: CliContext = ctx.obj
    engine = cli.migrated_engine()
    with error_console.status("Retraining (challenger backtest, champion comparison)"):
        decision = run_retrain(engine, cli.settings)
    if cli.json_output:
        cli.emit(decision.to_dict())
        return
    verdict = "Promoted" if decision.promoted else "Kept as candidate"
    console.print(f"{verdict}: {decision.challenger}. {decision.reason}.")
    if decision.rolled_back_to:
        console.print(f"Rolled back: {decision.rolled_back_to} is the champion again.")
    window = f"invoices issued {decision.window_from} to {decision.label_cutoff}"
    earlier = decision.earlier_metrics
    table = Table(
        "metric",
        "challenger",
        f"champion ({decision.champion_before or 'none'})",
        *(f"earlier champion {version}" for version in earlier),
        title=f"Same window: {decision.window_invoices:,} {window}",
    )
    champion = decision.champion_metrics or {}
    for name, value in decision.challenger_metrics.items():
        table.add_row(
            name,
            _metric_text(value),
            _metric_text(champion.get(name)),
            *(_metric_text(metrics[name]) for metrics in earlier.values()),
        )
    console.print(table)


@app.command()
def drift(
    ctx: typer.Context,
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Recent window in days (default: LATEPAY_DRIFT_DAYS, 90)."),
    ] = None,
) -> None:
    """Population stability index of every feature and of the score: recent vs. training."""
    from latepay.learning.drift import drift_report

    cli: CliContext = ctx.obj
    with error_console.status("Comparing the recent window with the training window"):
        report = drift_report(cli.migrated_engine(), cli.settings, days=days)
    if cli.json_output:
        cli.emit(report.to_dict())
        return
    table = Table(
        "feature",
        "kind",
        "PSI",
        "status",
        title=f"Drift of {report.champion}: {report.recent_invoices:,} invoices issued "
        f"{report.recent_from} to {report.recent_to} vs. {report.reference_invoices:,} issued "
        f"{report.reference_from} to {report.reference_to}",
    )
    colours = {"drift": "red", "watch": "yellow", "stable": "green", "seasonal": "dim"}
    for row in report.rows:
        table.add_row(
            row.feature, row.kind, f"{row.psi:.4f}", f"[{colours[row.status]}]{row.status}[/]"
        )
    console.print(table)


@app.command()
def performance(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Only invoices issued on or after this day.")
    ] = None,
) -> None:
    """Live performance: each invoice's score at issuance against its outcome, once matured;
    overall, by month of issue, customer segment and model version."""
    from latepay.learning.performance import live_performance

    cli: CliContext = ctx.obj
    day = _parse_date(since, "--since")
    with error_console.status("Joining scores at issuance with outcomes"):
        report = live_performance(
            cli.migrated_engine(), cli.settings, since=day.date() if day is not None else None
        )
    if cli.json_output:
        cli.emit(report.to_dict())
        return
    table = Table(
        "group", "invoices", "late rate", "mean P(late)", "ROC AUC", "Brier", "ECE",
        title=f"Scores at issuance on {report.matured:,} matured invoices (outcomes known by "
        f"{report.as_of}); {report.not_matured:,} not matured yet, "
        f"{report.matured_unscored:,} matured but never scored at issuance",
    )  # fmt: skip
    sections = [
        ("", [report.overall]),
        ("month ", report.by_month),
        ("segment ", report.by_segment),
        ("model ", report.by_model_version),
    ]
    for prefix, groups in sections:
        for group in groups:
            table.add_row(
                prefix + group.group,
                f"{group.invoices:,}",
                f"{group.late_rate:.3f}",
                f"{group.mean_predicted:.3f}",
                _metric_text(group.roc_auc),
                _metric_text(group.brier),
                _metric_text(group.ece),
            )
        table.add_section()
    console.print(table)
    calibration = Table(
        "P(late)", "invoices", "mean predicted", "observed late", title="Calibration, all"
    )
    for row in report.overall.calibration:
        calibration.add_row(
            f"{row.lower:.1f}-{row.upper:.1f}",
            f"{row.invoices:,}",
            f"{row.mean_predicted:.3f}",
            f"{row.observed_rate:.3f}",
        )
    console.print(calibration)


def _metric_text(value) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4f}"


def main() -> None:
    """Console-script entry point: user errors become one line and exit code 1."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        app()
    except LatepayError as error:
        _fail(str(error))
    except ArgumentError as error:
        _fail(f"the database URL is not valid: {error}. Example: sqlite:///latepay.db")
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        _fail(f"cannot use the database: {reason}")


def _fail(message: str) -> None:
    error_console.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(1)
