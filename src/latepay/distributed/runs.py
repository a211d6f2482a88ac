"""What ``latepay train``, ``backtest`` and ``score`` do with ``--dask``, as library calls.

Each mirrors its single-machine counterpart (:func:`latepay.learning.train.train_and_register`,
:func:`latepay.evaluation.backtest.run_backtest`, ``latepay score``) on a
:class:`~latepay.distributed.dataset.LedgerDataset`: same cutoffs, same parameters, same
registry. Predictions and scores are written as Parquet folders instead of CSV files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd
from sqlalchemy import Engine

from distributed import Client
from latepay.config import Settings
from latepay.distributed.dataset import LedgerDataset, partitioned_frame, write_partitioned
from latepay.distributed.features import training_rows
from latepay.distributed.scoring import (
    IssuedFrom,
    NewInvoices,
    OpenAt,
    WrittenScores,
    score_on_dask,
    write_scores,
)
from latepay.distributed.training import fit_gbm_on_dask, rows_fingerprint
from latepay.errors import NotEnoughDataError
from latepay.evaluation.backtest import default_cutoff
from latepay.evaluation.metrics import classification_metrics
from latepay.features import LabelSpec, Ledger, labels_known_at
from latepay.learning.train import HOLDOUT_SHARE, TrainingRun, model_params_for
from latepay.models.gbm import GradientBoostingLateModel
from latepay.models.registry import ModelRegistry
from latepay.models.training import LateModel
from latepay.scoring.files import read_invoice_file


@dataclass(frozen=True)
class DaskBacktest:
    """A backtest on the cluster: its model, and the metrics on invoices with a known outcome."""

    model: GradientBoostingLateModel
    cutoff: pd.Timestamp
    scores: WrittenScores
    training_rows: int
    with_known_outcome: int
    metrics: dict


def dataset_default_cutoff(dataset: LedgerDataset, test_share: float) -> pd.Timestamp:
    """:func:`~latepay.evaluation.backtest.default_cutoff` over the whole dataset."""
    invoices = dataset.table("invoices")[["issue_date", "is_credit_note"]].compute()
    # default_cutoff reads only the invoices' issue dates and credit-note flags.
    ledger = replace(Ledger.from_frames(invoices=invoices.iloc[:0]), invoices=invoices)
    return default_cutoff(ledger, test_share)


def run_backtest_on_dask(
    client: Client,
    dataset: LedgerDataset,
    *,
    cutoff: pd.Timestamp,
    spec: LabelSpec,
    tier_cutoffs: tuple[float, float, float],
    output: Path,
    model_params: dict | None = None,
) -> DaskBacktest:
    """Train gbm on labels known before ``cutoff``; score those issued from it into ``output``."""
    cutoff = pd.Timestamp(cutoff).normalize()
    rows = client.persist(training_rows(dataset, cutoff=cutoff, spec=spec))
    model = fit_gbm_on_dask(client, rows, spec=spec, params=model_params)
    model.version_ = f"backtest-gbm-{cutoff:%Y%m%d}"
    scores = score_on_dask(model, dataset, IssuedFrom(cutoff), tier_cutoffs=tier_cutoffs)
    written = write_scores(scores, output)
    if not written.scored:
        raise NotEnoughDataError(f"no invoice was issued on or after the cutoff {cutoff:%Y-%m-%d}")
    outcomes = (
        dataset.table("invoices")
        .map_partitions(
            _outcomes,
            cutoff=cutoff,
            as_of=dataset.as_of,
            spec=spec,
            meta={"invoice_id": object, "is_late": int},
        )
        .compute()
    )
    predicted = pd.read_parquet(output, columns=["invoice_id", "p_late"])
    known = outcomes.merge(predicted, on="invoice_id", validate="one_to_one")
    metrics = classification_metrics(
        known["is_late"].to_numpy(), known["p_late"].to_numpy(), model.threshold_
    )
    return DaskBacktest(model, cutoff, written, len(rows), len(known), metrics)


def train_and_register_on_dask(
    client: Client,
    dataset: LedgerDataset,
    engine: Engine,
    settings: Settings,
    *,
    scratch: Path,
    promote: bool = True,
) -> TrainingRun:
    """:func:`latepay.learning.train.train_and_register` of gbm, on the cluster.

    The holdout backtest's scores go to ``scratch`` (removed afterwards). The version's
    metadata records ``trained_on: dask`` with the cluster's workers and the dataset.
    """
    spec = settings.label_spec()
    params = model_params_for("gbm", settings)
    try:
        holdout = run_backtest_on_dask(
            client,
            dataset,
            cutoff=dataset_default_cutoff(dataset, HOLDOUT_SHARE),
            spec=spec,
            tier_cutoffs=settings.risk_tier_cutoffs,
            output=scratch,
            model_params=params,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = client.persist(training_rows(dataset, cutoff=dataset.as_of, spec=spec))
    model = fit_gbm_on_dask(client, rows, spec=spec, params=params)
    first, last = dask.compute(rows["issue_date"].min(), rows["issue_date"].max())
    registry = ModelRegistry(settings.model_dir, engine)
    version = registry.register(
        model,
        data_hash=rows_fingerprint(rows),
        trained_from=first.date(),
        trained_to=last.date(),
        metrics={"holdout": holdout.metrics, "holdout_from": f"{holdout.cutoff:%Y-%m-%d}"},
        notes={
            "label_cutoff": f"{dataset.as_of:%Y-%m-%d}",
            "training_rows": len(rows),
            "trained_on": "dask",
            "dask": {
                "workers": len(client.scheduler_info()["workers"]),
                "dataset": str(dataset.path.resolve()),
                "buckets": dataset.buckets,
                "calibration": "isotonic/sigmoid and threshold fitted on the driver from the "
                "calibration slice's raw scores; early stopping applied after training",
            },
        },
    )
    if promote:
        registry.promote(version, decision="trained on Dask with `latepay train` and promoted")
    return TrainingRun(version, "gbm", len(rows), holdout.metrics, promote)


def score_dataset(
    model: LateModel,
    dataset: LedgerDataset,
    *,
    output: Path,
    tier_cutoffs: tuple[float, float, float],
    reasons: int,
    as_of: pd.Timestamp | None = None,
    input_file: Path | None = None,
    mapping: Path | None = None,
) -> WrittenScores:
    """Score the open invoices (as of ``as_of``) or those of ``input_file`` into ``output``.

    A file's invoices are read and checked here (:func:`latepay.scoring.files.read_invoice_file`)
    and written beside ``output`` into the dataset's buckets, so each lands in the partition
    holding its customer's history.
    """
    if input_file is None:
        scores = score_on_dask(
            model,
            dataset,
            OpenAt(as_of or dataset.as_of),
            tier_cutoffs=tier_cutoffs,
            reasons=reasons,
        )
        return write_scores(scores, output)
    invoices = read_invoice_file(input_file, model, mapping=mapping).invoices
    staging = output.with_name(f".{output.name}.invoices")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write_partitioned(invoices, staging, dataset.buckets)
        new: dd.DataFrame = partitioned_frame(staging, dataset.buckets)
        scores = score_on_dask(
            model,
            dataset,
            NewInvoices(),
            tier_cutoffs=tier_cutoffs,
            reasons=reasons,
            new_invoices=new,
        )
        return write_scores(scores, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _outcomes(
    invoices: pd.DataFrame, *, cutoff: pd.Timestamp, as_of: pd.Timestamp, spec: LabelSpec
) -> pd.DataFrame:
    """What happened to the invoices a backtest scores, as known at the dataset's as-of day."""
    invoices = Ledger.from_frames(invoices=invoices).invoices
    tested = invoices[(invoices["issue_date"] >= cutoff) & ~invoices["is_credit_note"]]
    labels = labels_known_at(tested, as_of, spec)
    return pd.DataFrame(
        {
            "invoice_id": tested.loc[labels.index, "invoice_id"].to_numpy(dtype=object),
            "is_late": labels["is_late"].to_numpy(),
        }
    )
