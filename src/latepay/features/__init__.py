"""Point-in-time features: what was known about an invoice's customer before a moment."""

from latepay.features.build import build_features, categorical_features
from latepay.features.labels import LabelSpec, labels_known_at
from latepay.features.ledger import Ledger, load_ledger

__all__ = [
    "LabelSpec",
    "Ledger",
    "build_features",
    "categorical_features",
    "labels_known_at",
    "load_ledger",
]
