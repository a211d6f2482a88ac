"""Drift: has what the model sees moved away from what it learned on?

The population stability index (PSI) compares a *recent* window (invoices issued in the last
``days`` days of the ledger) with a *reference*: the champion's training window, cut off where
the recent window starts so that no invoice is in both. Each invoice is described by its
point-in-time features as of its issue date, exactly as it was (or would have been) scored.

``PSI = sum over bins of (recent - reference) * ln(recent / reference)`` over bin shares.
Numeric features use the reference's deciles as bins (missing values get a bin of their own);
categorical features use their categories; the score distribution is the champion's P(late).
Empty bins count as a small ``epsilon`` so the logarithm stays finite. Rule of thumb: below 0.1
stable, 0.1 to 0.25 worth watching, above 0.25 drifted (both thresholds are settings). The month
of issue always differs between a few recent months and a training window of years; it is
listed as ``seasonal`` and never called drift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from latepay.config import Settings
from latepay.errors import NotEnoughDataError
from latepay.features import Ledger, build_features, categorical_features, load_ledger
from latepay.models.registry import ModelRegistry

BINS = 10
EPSILON = 1e-4
#: At most this many reference invoices are described (a seeded sample beyond), for speed.
MAX_REFERENCE_ROWS = 20_000
SCORE = "score:p_late"
#: Features a window shorter than a year always shifts: shown, but never called drift.
SEASONAL_FEATURES = frozenset({"issue_month"})


def population_stability_index(
    reference: np.ndarray, recent: np.ndarray, bins: int = BINS, epsilon: float = EPSILON
) -> float:
    """PSI of a numeric variable, with quantile bins taken from ``reference``.

    Parameters
    ----------
    reference, recent : ndarray of float
        Values in the two windows; NaN counts as its own bin.
    bins : int, default 10
        Number of quantile bins (fewer when the reference has ties at the edges).
    epsilon : float
        Share given to an empty bin.

    Examples
    --------
    >>> values = np.arange(1000.0)
    >>> population_stability_index(values, values)
    0.0
    """
    reference = np.asarray(reference, dtype=float)
    recent = np.asarray(recent, dtype=float)
    known = reference[~np.isnan(reference)]
    edges = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1])) if len(known) else []
    return _psi(_bin_shares(reference, edges), _bin_shares(recent, edges), epsilon)


def category_stability_index(
    reference: pd.Series, recent: pd.Series, epsilon: float = EPSILON
) -> float:
    """PSI of a categorical variable over the categories seen in either window."""
    reference_shares = reference.fillna("<missing>").value_counts(normalize=True)
    recent_shares = recent.fillna("<missing>").value_counts(normalize=True)
    categories = reference_shares.index.union(recent_shares.index)
    return _psi(
        reference_shares.reindex(categories, fill_value=0.0).to_numpy(),
        recent_shares.reindex(categories, fill_value=0.0).to_numpy(),
        epsilon,
    )


@dataclass(frozen=True)
class DriftRow:
    feature: str
    kind: str  # numeric, categorical, seasonal or score
    psi: float
    status: str  # stable, watch or drift; "seasonal" for seasonal features


@dataclass(frozen=True)
class DriftReport:
    champion: str
    reference_from: str
    reference_to: str
    reference_invoices: int
    recent_from: str
    recent_to: str
    recent_invoices: int
    rows: list[DriftRow]  # highest PSI first

    def to_dict(self) -> dict:
        return asdict(self)


def drift_report(engine: Engine, settings: Settings, *, days: int | None = None) -> DriftReport:
    """PSI of every feature and of the champion's score: its training window vs. the last days.

    Raises
    ------
    NotFoundError
        When there is no champion (run ``latepay train``).
    NotEnoughDataError
        When either window holds no invoice.
    """
    days = days or settings.drift_days
    registry = ModelRegistry(settings.model_dir, engine)
    champion = registry.load_champion()
    metadata = registry.metadata(champion.version_)
    ledger = load_ledger(engine)
    invoices = ledger.invoices[~ledger.invoices["is_credit_note"]]
    if invoices.empty:
        raise NotEnoughDataError("the database has no invoices; run `latepay import` first")
    recent_to = ledger.as_of
    recent_from = recent_to - pd.Timedelta(days=days)
    trained_from = pd.Timestamp(metadata["trained_from"] or invoices["issue_date"].min())
    trained_to = pd.Timestamp(metadata["trained_to"] or recent_from)
    reference_to = min(trained_to + pd.Timedelta(days=1), recent_from)
    issue = invoices["issue_date"]
    reference = invoices[(issue >= trained_from) & (issue < reference_to)]
    recent = invoices[(issue >= recent_from) & (issue < recent_to)]
    if reference.empty or recent.empty:
        raise NotEnoughDataError(
            f"drift needs invoices in both windows; the champion's training window before "
            f"{reference_to:%Y-%m-%d} has {len(reference)}, the last {days} days have "
            f"{len(recent)}. Try a different --days."
        )
    if len(reference) > MAX_REFERENCE_ROWS:
        reference = reference.sample(MAX_REFERENCE_ROWS, random_state=0).sort_index()
    grace = champion.spec_.grace_days
    reference_features = _features(ledger, reference, grace)
    recent_features = _features(ledger, recent, grace)
    rows = [
        DriftRow(
            SCORE,
            "score",
            population_stability_index(
                champion.predict_proba_late(reference_features),
                champion.predict_proba_late(recent_features),
            ),
            "",
        )
    ]
    categorical = set(categorical_features(reference_features))
    for column in reference_features.columns:
        if column in categorical:
            psi = category_stability_index(reference_features[column], recent_features[column])
            rows.append(DriftRow(column, "categorical", psi, ""))
        else:
            psi = population_stability_index(
                pd.to_numeric(reference_features[column], errors="coerce").to_numpy(dtype=float),
                pd.to_numeric(recent_features[column], errors="coerce").to_numpy(dtype=float),
            )
            kind = "seasonal" if column in SEASONAL_FEATURES else "numeric"
            rows.append(DriftRow(column, kind, psi, ""))
    rows = [
        DriftRow(
            row.feature,
            row.kind,
            row.psi,
            "seasonal" if row.kind == "seasonal" else _status(row.psi, settings),
        )
        for row in sorted(rows, key=lambda row: row.psi, reverse=True)
    ]
    return DriftReport(
        champion=champion.version_,
        reference_from=f"{trained_from:%Y-%m-%d}",
        reference_to=f"{reference_to - pd.Timedelta(days=1):%Y-%m-%d}",
        reference_invoices=len(reference),
        recent_from=f"{recent_from:%Y-%m-%d}",
        recent_to=f"{recent_to - pd.Timedelta(days=1):%Y-%m-%d}",
        recent_invoices=len(recent),
        rows=rows,
    )


def _features(ledger: Ledger, invoices: pd.DataFrame, grace_days: int) -> pd.DataFrame:
    return build_features(ledger, invoices, grace_days=grace_days)


def _status(psi: float, settings: Settings) -> str:
    if psi >= settings.drift_alert_psi:
        return "drift"
    return "watch" if psi >= settings.drift_watch_psi else "stable"


def _bin_shares(values: np.ndarray, edges) -> np.ndarray:
    missing = np.isnan(values)
    counts = np.bincount(
        np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1
    )
    counts = np.append(counts, missing.sum())
    return counts / max(len(values), 1)


def _psi(reference: np.ndarray, recent: np.ndarray, epsilon: float) -> float:
    reference = np.maximum(reference, epsilon)
    recent = np.maximum(recent, epsilon)
    return float(np.sum((recent - reference) * np.log(recent / reference)))
