"""From a ledger to a fitted model: labels known at a cutoff, features as of issue, fit.

The cutoff is the honest boundary: only outcomes known before it become labels, and every
feature of a training invoice is computed as of that invoice's issue date.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from latepay.features import LabelSpec, Ledger, build_features, categorical_features
from latepay.features.labels import DEFAULT_SPEC, labels_known_at
from latepay.models.base import TrainingData
from latepay.models.gbm import GradientBoostingLateModel
from latepay.models.seed import SmoteRandomForestModel

MODEL_KINDS = {
    GradientBoostingLateModel.kind: GradientBoostingLateModel,
    SmoteRandomForestModel.kind: SmoteRandomForestModel,
}
LateModel = GradientBoostingLateModel | SmoteRandomForestModel


def training_data(
    ledger: Ledger, *, cutoff: pd.Timestamp | None, spec: LabelSpec = DEFAULT_SPEC
) -> TrainingData:
    """Features and labels of every invoice whose outcome was known before ``cutoff``."""
    labels = labels_known_at(ledger.invoices, cutoff, spec)
    invoices = ledger.invoices.loc[labels.index]
    order = np.lexsort((invoices["invoice_id"].to_numpy(), invoices["issue_date"].to_numpy()))
    invoices = invoices.iloc[order].reset_index(drop=True)
    labels = labels.iloc[order].reset_index(drop=True)
    features = build_features(ledger, invoices, grace_days=spec.grace_days)
    return TrainingData(
        features=features,
        is_late=labels["is_late"].to_numpy(),
        bucket=labels["bucket"].to_numpy(),
        days_late=labels["days_late"].to_numpy(dtype=float),
        issue_dates=invoices["issue_date"],
        categorical=categorical_features(features),
        spec=spec,
    )


def make_model(kind: str, **params) -> LateModel:
    """A fresh, unfitted model of ``kind`` ('gbm' or 'seed')."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"model kind must be one of {sorted(MODEL_KINDS)}, got {kind!r}")
    return MODEL_KINDS[kind](**params)


def data_fingerprint(data: TrainingData) -> str:
    """SHA-256 of the training rows (features and labels): the same data gives the same hash."""
    digest = hashlib.sha256()
    hashed = pd.util.hash_pandas_object(data.features, index=False).to_numpy()
    digest.update(hashed.tobytes())
    digest.update(np.asarray(data.is_late, dtype=np.int8).tobytes())
    digest.update(np.asarray(data.bucket, dtype=np.int8).tobytes())
    return digest.hexdigest()
