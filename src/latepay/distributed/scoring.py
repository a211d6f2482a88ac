"""Scoring on a Dask cluster: each customer bucket through the one scoring path.

A partition builds its bucket's :class:`~latepay.features.Ledger`, picks the invoices to score
(:class:`OpenAt`, :class:`IssuedFrom`, or the bucket's share of a file of new invoices) and
calls :func:`latepay.scoring.score_invoices`, so an invoice gets the score it would get on one
machine. Scores are written as a Parquet folder, one file per bucket.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd
import pyarrow as pa

from latepay.distributed.dataset import CUSTOMER_TABLES, LedgerDataset, bucket_ledger
from latepay.features import Ledger
from latepay.models.training import LateModel
from latepay.scoring import score_invoices
from latepay.scoring.batch import open_invoices


@dataclass(frozen=True)
class OpenAt:
    """The invoices open at ``as_of``, each scored as of that day (``latepay score --open``)."""

    as_of: pd.Timestamp

    def __call__(self, ledger: Ledger, new: pd.DataFrame | None) -> tuple[pd.DataFrame, object]:
        invoices = open_invoices(ledger, self.as_of)
        return invoices, pd.Series(self.as_of, index=invoices.index)


@dataclass(frozen=True)
class IssuedFrom:
    """Invoices issued on or after ``cutoff`` (credit notes aside), each as of its issue date."""

    cutoff: pd.Timestamp

    def __call__(self, ledger: Ledger, new: pd.DataFrame | None) -> tuple[pd.DataFrame, object]:
        invoices = ledger.invoices
        return invoices[(invoices["issue_date"] >= self.cutoff) & ~invoices["is_credit_note"]], None


@dataclass(frozen=True)
class NewInvoices:
    """The new invoices given beside the ledger, each as of its issue date (``score FILE``)."""

    def __call__(self, ledger: Ledger, new: pd.DataFrame | None) -> tuple[pd.DataFrame, object]:
        return new, new["issue_date"]


Selection = OpenAt | IssuedFrom | NewInvoices


@dataclass(frozen=True)
class WrittenScores:
    """Where scores were written, how many, and how many per risk tier."""

    output: Path
    scored: int
    risk_tiers: dict[str, int]


def score_on_dask(
    model: LateModel,
    dataset: LedgerDataset,
    selection: Selection,
    *,
    tier_cutoffs: tuple[float, float, float],
    reasons: int = 0,
    new_invoices: dd.DataFrame | None = None,
) -> dd.DataFrame:
    """Scores of the selected invoices, one partition per bucket.

    Parameters
    ----------
    model : fitted model
    dataset : LedgerDataset
    selection : OpenAt, IssuedFrom or NewInvoices
    tier_cutoffs : tuple of three floats
    reasons : int
        Reasons per invoice, as JSON text in a ``reasons`` column (0 for none).
    new_invoices : dask DataFrame, optional
        With :class:`NewInvoices`: the invoices to score, partitioned into the dataset's buckets
        (:func:`latepay.distributed.dataset.partitioned_frame`).

    Returns
    -------
    dask DataFrame
        The columns of :func:`latepay.scoring.score_invoices`.
    """
    extra = [] if new_invoices is None else [new_invoices]
    meta = _scores_meta(model, reasons)
    return dd.map_partitions(
        _bucket_scores,
        *dataset.tables(),
        *extra,
        indicators=dataset.indicators(),
        model=model,
        selection=selection,
        tier_cutoffs=tier_cutoffs,
        reasons=reasons,
        empty=meta,
        meta=meta,
        align_dataframes=False,
        enforce_metadata=False,
    )


def write_scores(scores: dd.DataFrame, output: Path) -> WrittenScores:
    """Write ``scores`` as a Parquet folder and count them by risk tier, in one pass."""
    # Text columns are objects to pandas: the file schema is spelled out, not inferred.
    schema = pa.schema(
        [
            (name, pa.float64() if pd.api.types.is_float_dtype(dtype) else pa.string())
            for name, dtype in scores.dtypes.items()
        ]
    )
    write = scores.to_parquet(output, write_index=False, schema=schema, compute=False)
    # Counted per partition and added up here: a Dask value_counts would shuffle the scores.
    tiers = scores["risk_tier"].map_partitions(
        lambda part: part.value_counts().to_dict(), meta=(None, object)
    )
    _, per_partition = dask.compute(write, tiers)
    by_tier = sum((Counter(counts) for counts in per_partition), Counter())
    counts = {str(tier): int(n) for tier, n in sorted(by_tier.items())}
    return WrittenScores(Path(output), sum(counts.values()), counts)


def _bucket_scores(
    *frames: pd.DataFrame,
    indicators: pd.DataFrame,
    model: LateModel,
    selection: Selection,
    tier_cutoffs: tuple[float, float, float],
    reasons: int,
    empty: pd.DataFrame,
) -> pd.DataFrame:
    """Scores of one bucket; ``frames`` are its ledger tables, then its new invoices if any."""
    tables, new = frames[: len(CUSTOMER_TABLES)], frames[len(CUSTOMER_TABLES) :]
    ledger = bucket_ledger(*tables, indicators=indicators)
    queries, moments = selection(ledger, new[0] if new else None)
    if queries.empty:
        return empty
    scored = score_invoices(
        model, ledger, queries, moments=moments, tier_cutoffs=tier_cutoffs, reasons=reasons
    )
    if reasons:
        scored["reasons"] = [json.dumps(found) for found in scored["reasons"]]
    return scored


def _scores_meta(model: LateModel, reasons: int) -> pd.DataFrame:
    columns = {
        "invoice_id": pd.Series(dtype=object),
        "p_late": pd.Series(dtype=float),
        **{f"p_{name}": pd.Series(dtype=float) for name in model.spec_.bucket_names},
        "expected_days_late": pd.Series(dtype=float),
        "risk_tier": pd.Series(dtype=object),
        "model_version": pd.Series(dtype=object),
        "inputs_hash": pd.Series(dtype=object),
    }
    if reasons:
        columns["reasons"] = pd.Series(dtype=object)
    return pd.DataFrame(columns)
