"""Train a model on everything known, measure it honestly, and register it.

The metrics a version carries come from a holdout backtest: the same model kind trained on
what was known before the newest share of invoices, scored on those. The registered model is
then trained on everything known at the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from latepay.config import Settings
from latepay.evaluation.backtest import default_cutoff, run_backtest
from latepay.evaluation.metrics import classification_metrics
from latepay.features import Ledger
from latepay.models.registry import ModelRegistry
from latepay.models.training import data_fingerprint, make_model, training_data

HOLDOUT_SHARE = 0.2


@dataclass(frozen=True)
class TrainingRun:
    version: str
    kind: str
    rows: int
    holdout_metrics: dict
    promoted: bool


def train_and_register(
    engine: Engine,
    ledger: Ledger,
    settings: Settings,
    *,
    kind: str = "gbm",
    promote: bool = True,
) -> TrainingRun:
    """Train ``kind`` on every label the ledger knows (as of its newest date), register it.

    Parameters
    ----------
    promote : bool
        Make the new version the champion (the first model of a database always is worth
        serving; later ones go through the challenger comparison of ``latepay retrain``).
    """
    spec = settings.label_spec()
    cutoff = ledger.as_of
    params = model_params_for(kind, settings)
    holdout = run_backtest(
        ledger,
        cutoff=default_cutoff(ledger, HOLDOUT_SHARE),
        kind=kind,
        spec=spec,
        tier_cutoffs=settings.risk_tier_cutoffs,
        model_params=params,
    )
    scored = holdout.predictions.loc[holdout.outcomes.index]
    metrics = classification_metrics(
        holdout.outcomes["is_late"].to_numpy(),
        scored["p_late"].to_numpy(),
        holdout.model.threshold_,
    )
    data = training_data(ledger, cutoff=cutoff, spec=spec)
    model = make_model(kind, **params).fit(data)
    registry = ModelRegistry(settings.model_dir, engine)
    version = registry.register(
        model,
        data_hash=data_fingerprint(data),
        trained_from=data.issue_dates.iloc[0].date(),
        trained_to=data.issue_dates.iloc[-1].date(),
        metrics={"holdout": metrics, "holdout_from": f"{holdout.cutoff:%Y-%m-%d}"},
        notes={"label_cutoff": f"{cutoff:%Y-%m-%d}", "training_rows": len(data.is_late)},
    )
    if promote:
        registry.promote(version, decision="trained with `latepay train` and promoted")
    return TrainingRun(version, kind, len(data.is_late), metrics, promote)


def model_params_for(kind: str, settings: Settings) -> dict:
    """The estimator parameters ``latepay train`` and ``latepay retrain`` use for ``kind``."""
    if kind == "gbm":
        return {
            "cost_missed_late": settings.cost_missed_late,
            "cost_needless_reminder": settings.cost_needless_reminder,
            "recency_half_life_days": settings.recency_half_life_days,
        }
    return {}
