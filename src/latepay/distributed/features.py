"""Training rows on a Dask cluster: each customer bucket through the one feature function.

Every partition is one customer bucket of a :class:`~latepay.distributed.dataset.LedgerDataset`
(see there why a bucket is a self-contained ledger). A partition runs
:func:`latepay.models.training.training_data` — labels known at the cutoff and
:func:`latepay.features.build_features` as of each issue date — on its bucket's ledger, so
its rows are exactly the single-machine rows of the same invoices. The label cutoff must be
the whole ledger's (:attr:`LedgerDataset.as_of`), never a bucket's own.
"""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd

from latepay.distributed.dataset import LedgerDataset, bucket_ledger
from latepay.features import LabelSpec, Ledger, labels_known_at
from latepay.models.training import training_data

# Columns a training row carries beside its features.
ROW_COLUMNS = ("invoice_id", "issue_date", "is_late", "bucket", "days_late")
# Customers of the first bucket whose rows give the column types of the result.
_META_CUSTOMERS = 50


def training_rows(dataset: LedgerDataset, *, cutoff: pd.Timestamp, spec: LabelSpec) -> dd.DataFrame:
    """Features and labels of every invoice whose outcome was known before ``cutoff``.

    Returns
    -------
    dask DataFrame
        One partition per bucket: the features of :func:`~latepay.features.build_features`
        then :data:`ROW_COLUMNS`, in issue order within a partition.
    """
    indicators = dataset.indicators()
    sample = dataset.ledger(0)
    sample = sample.for_customers(sample.customers["customer_id"].head(_META_CUSTOMERS))
    meta = ledger_training_rows(sample, cutoff=cutoff, spec=spec).iloc[:0]
    return dd.map_partitions(
        _bucket_training_rows,
        *dataset.tables(),
        indicators=indicators,
        cutoff=cutoff,
        spec=spec,
        empty=meta,
        meta=meta,
        align_dataframes=False,
        enforce_metadata=False,
    )


def ledger_training_rows(ledger: Ledger, *, cutoff: pd.Timestamp, spec: LabelSpec) -> pd.DataFrame:
    """:func:`~latepay.models.training.training_data` of ``ledger`` as one frame."""
    data = training_data(ledger, cutoff=cutoff, spec=spec)
    rows = data.features.copy()
    rows["invoice_id"] = _training_invoice_ids(ledger, cutoff, spec)
    rows["issue_date"] = data.issue_dates.to_numpy()
    rows["is_late"] = data.is_late
    rows["bucket"] = data.bucket
    rows["days_late"] = data.days_late
    return rows


def _training_invoice_ids(ledger: Ledger, cutoff: pd.Timestamp, spec: LabelSpec) -> np.ndarray:
    """The invoice of each training row, in :func:`training_data`'s (issue date, id) order."""
    labelled = ledger.invoices.loc[labels_known_at(ledger.invoices, cutoff, spec).index]
    ids = labelled["invoice_id"].to_numpy()
    return ids[np.lexsort((ids, labelled["issue_date"].to_numpy()))]


def _bucket_training_rows(
    *tables: pd.DataFrame,
    indicators: pd.DataFrame,
    cutoff: pd.Timestamp,
    spec: LabelSpec,
    empty: pd.DataFrame,
) -> pd.DataFrame:
    ledger = bucket_ledger(*tables, indicators=indicators)
    if ledger.invoices.empty:
        return empty
    rows = ledger_training_rows(ledger, cutoff=cutoff, spec=spec)
    return rows if len(rows) else empty
