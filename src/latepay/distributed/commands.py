"""The ``--dask`` side of ``latepay import``, ``train``, ``backtest`` and ``score``.

With ``--dask ADDRESS`` (or ``LATEPAY_DASK_SCHEDULER``) the ledger lives in a Parquet dataset
folder, ``--data PATH``, instead of the database:

- ``import`` checks the mapping's files exactly as a database import does and writes them as
  the dataset (it needs no worker: validation reads whole files here);
- ``train`` trains gbm on the cluster and registers it in the database's model registry
  (``LATEPAY_MODEL_DIR``), marked ``trained_on: dask``, so the API and ``latepay score`` use
  it like any model;
- ``backtest`` and ``score`` write their predictions as Parquet folders at ``--output``.
  Scores are not recorded in the database's ``predictions`` table: at the sizes that need a
  cluster, the Parquet folder is the record.

The command line prints what these return; the work is in the modules they call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from latepay.config import Settings
from latepay.distributed.cluster import dask_client
from latepay.distributed.dataset import LedgerDataset
from latepay.distributed.importing import import_to_dataset
from latepay.distributed.runs import (
    dataset_default_cutoff,
    run_backtest_on_dask,
    score_dataset,
    train_and_register_on_dask,
)
from latepay.errors import InputError
from latepay.ingest import ImportReport
from latepay.learning.train import model_params_for
from latepay.models.registry import ModelRegistry

METRICS_SHOWN = ("roc_auc", "pr_auc", "brier", "ece", "accuracy", "f1_late")


@dataclass(frozen=True)
class CommandResult:
    """What a command did: ``data`` for ``--json``, ``message`` for people."""

    data: dict[str, Any]
    message: str


def dataset_folder(address: str | None, data: Path | None) -> Path | None:
    """The dataset folder when running on Dask (None otherwise); the two go together."""
    if address is None and data is not None:
        raise InputError(
            "--data names the Parquet dataset of a Dask run; add --dask ADDRESS (or 'local') "
            "or set LATEPAY_DASK_SCHEDULER"
        )
    if address is not None and data is None:
        raise InputError(
            "--dask needs --data PATH: the Parquet dataset folder that `latepay import "
            "MAPPING --dask ... --data PATH` writes and train, backtest and score read"
        )
    return data


def import_dataset(mapping: Path, data: Path, data_dir: Path | None) -> ImportReport:
    """``latepay import --dask``: the report of writing the mapping's files into ``data``."""
    return import_to_dataset(mapping, data, data_dir=data_dir).report


def train(
    address: str, data: Path, engine: Engine, settings: Settings, *, promote: bool
) -> CommandResult:
    """``latepay train --dask``."""
    dataset = LedgerDataset.open(data)
    with dask_client(address) as client:
        run = train_and_register_on_dask(
            client,
            dataset,
            engine,
            settings,
            scratch=data.with_name(f".{data.name}.holdout"),
            promote=promote,
        )
    metrics = run.holdout_metrics
    return CommandResult(
        {
            "version": run.version,
            "kind": run.kind,
            "training_rows": run.rows,
            "promoted": run.promoted,
            "trained_on": "dask",
            "holdout": {k: v for k, v in metrics.items() if k != "confusion_matrix"},
        },
        f"Registered {run.version} trained on Dask ({run.rows:,} invoices"
        f"{', champion' if run.promoted else ''}). Holdout: ROC AUC {metrics['roc_auc']:.3f}, "
        f"PR AUC {metrics['pr_auc']:.3f}, Brier {metrics['brier']:.3f}, "
        f"accuracy {metrics['accuracy']:.3f}",
    )


def backtest(
    address: str, data: Path, *, cutoff: pd.Timestamp | None, output: Path, settings: Settings
) -> CommandResult:
    """``latepay backtest --dask``: predictions as a Parquet folder at ``output``."""
    dataset = LedgerDataset.open(data)
    with dask_client(address) as client:
        cutoff_day = cutoff or dataset_default_cutoff(dataset, 0.25)
        result = run_backtest_on_dask(
            client,
            dataset,
            cutoff=cutoff_day,
            spec=settings.label_spec(),
            tier_cutoffs=settings.risk_tier_cutoffs,
            output=output,
            model_params=model_params_for("gbm", settings),
        )
    metrics = {k: v for k, v in result.metrics.items() if k != "confusion_matrix"}
    shown = ", ".join(f"{name} {metrics[name]:.3f}" for name in METRICS_SHOWN)
    return CommandResult(
        {
            "cutoff": f"{result.cutoff:%Y-%m-%d}",
            "training_rows": result.training_rows,
            "scored": result.scores.scored,
            "with_known_outcome": result.with_known_outcome,
            "output": str(output),
            **metrics,
        },
        f"Backtest of gbm on Dask from {result.cutoff:%Y-%m-%d}: trained on "
        f"{result.training_rows:,}, scored {result.scores.scored:,} invoices "
        f"({result.with_known_outcome:,} with a known outcome) -> {output}\n{shown}",
    )


def score(
    address: str,
    data: Path,
    engine: Engine,
    settings: Settings,
    *,
    input_file: Path | None,
    mapping: Path | None,
    as_of: pd.Timestamp | None,
    output: Path,
    reasons: int,
) -> CommandResult:
    """``latepay score --dask``: the champion's scores as a Parquet folder at ``output``."""
    dataset = LedgerDataset.open(data)
    model = ModelRegistry(settings.model_dir, engine).load_champion()
    # The client becomes Dask's default: the scoring graph runs on its cluster.
    with dask_client(address):
        written = score_dataset(
            model,
            dataset,
            output=output,
            tier_cutoffs=settings.risk_tier_cutoffs,
            reasons=reasons,
            as_of=as_of,
            input_file=input_file,
            mapping=mapping,
        )
    which = (
        f"open invoices as of {as_of or dataset.as_of:%Y-%m-%d}"
        if input_file is None
        else f"invoices of {input_file} as of their issue dates"
    )
    return CommandResult(
        {
            "scored": written.scored,
            "output": str(output),
            "model_version": model.version_,
            "risk_tiers": written.risk_tiers,
        },
        f"Scored {written.scored:,} {which} on Dask with {model.version_} -> {output}; "
        f"risk tiers: {written.risk_tiers}",
    )
