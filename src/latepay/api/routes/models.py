"""The model registry over HTTP: what was trained, what is served, and promotion (rollback)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, StringConstraints

from latepay.api.auth import ANY_ROLE, require
from latepay.api.keys import Role
from latepay.errors import ConflictError
from latepay.learning.drift import drift_report
from latepay.learning.performance import live_performance
from latepay.learning.retrain import retrain
from latepay.models.registry import ModelRegistry

router = APIRouter(prefix="/v1/models", tags=["models"])


class ModelVersionOut(BaseModel):
    version: str
    kind: str
    status: str
    data_hash: str
    trained_from: dt.date | None
    trained_to: dt.date | None
    metrics: dict[str, Any] | None
    decision: str | None
    created_at: dt.datetime
    promoted_at: dt.datetime | None
    served: bool = Field(description="True for the version this server answers with now.")


class Promotion(BaseModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


def _registry(request: Request) -> ModelRegistry:
    return request.app.state.champion.registry


@router.get("", response_model=list[ModelVersionOut])
def list_models(
    request: Request,
    _: Role = Depends(require(*ANY_ROLE)),  # noqa: B008
) -> list[ModelVersionOut]:
    """Every registered version, newest first, with its metrics and the last decision."""
    served = request.app.state.champion.version
    return [
        ModelVersionOut(
            **{k: v for k, v in row.items() if k != "path"}, served=row["version"] == served
        )
        for row in _registry(request).versions()
    ]


@router.post("/{version}/promote", response_model=ModelVersionOut, responses={404: {}})
def promote(
    version: str,
    request: Request,
    body: Annotated[Promotion, Body()],
    _: Role = Depends(require()),  # noqa: B008
) -> ModelVersionOut:
    """Make ``version`` the champion (forward or back); servers swap to it within seconds,
    without dropping a request."""
    registry = _registry(request)
    registry.promote(version, decision=f"promoted by an admin: {body.reason}")
    request.app.state.champion.refresh()
    request.app.state.metrics.serving(request.app.state.champion.version)
    row = next(r for r in registry.versions() if r["version"] == version)
    return ModelVersionOut(
        **{k: v for k, v in row.items() if k != "path"},
        served=request.app.state.champion.version == version,
    )


class RetrainOut(BaseModel):
    """A retrain's decision, with both models' metrics on the same window."""

    challenger: str
    champion_before: str | None
    champion_after: str | None
    promoted: bool
    reason: str
    window_from: dt.date
    label_cutoff: dt.date
    window_invoices: int
    window_fallback: bool = Field(
        description="True when too few invoices of the trailing window (the newest "
        "LATEPAY_RETRAIN_WINDOW_DAYS days before the label cutoff) had a known outcome, so the "
        "window widened to the newest 20% of invoices."
    )
    champion_saw_window: bool = Field(
        description="True when the champion was trained on invoices issued from window_from "
        "on: its numbers are optimistic, so the comparison leans towards keeping it."
    )
    training_rows: int
    challenger_metrics: dict[str, float | int]
    champion_metrics: dict[str, float | int] | None
    earlier_metrics: dict[str, dict[str, float | int]] = Field(
        description="The earlier champions trained before window_from, weighed for a "
        "roll-back, by version, on the same invoices."
    )
    rolled_back_to: str | None = Field(
        description="The earlier champion that became champion again because it beat both "
        "the champion and the challenger, if one did."
    )


# One retrain per process at a time; across processes the retrain's own lock serialises them.
_retraining = threading.Lock()


@router.post("/retrain", response_model=RetrainOut, responses={409: {}, 400: {}})
async def retrain_models(
    request: Request,
    _: Role = Depends(require()),  # noqa: B008
) -> RetrainOut:
    """Train a challenger and promote it only if it beats the champion on the same newest
    invoices by the margin and clears the quality floor; otherwise keep it as a candidate."""
    if not _retraining.acquire(blocking=False):
        raise ConflictError("a retrain is already running on this server; try again when it ends")
    try:
        decision = await run_in_threadpool(
            retrain, request.app.state.engine, request.app.state.settings
        )
    finally:
        _retraining.release()
    if decision.champion_after != decision.champion_before:
        request.app.state.champion.refresh()
        request.app.state.metrics.serving(request.app.state.champion.version)
    return RetrainOut(**decision.to_dict())


class DriftRowOut(BaseModel):
    feature: str
    kind: str
    psi: float
    status: str


class DriftOut(BaseModel):
    champion: str
    reference_from: str
    reference_to: str
    reference_invoices: int
    recent_from: str
    recent_to: str
    recent_invoices: int
    rows: list[DriftRowOut] = Field(description="Highest population stability index first.")


@router.get("/drift", response_model=DriftOut, responses={400: {}, 404: {}})
def drift(
    request: Request,
    days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    _: Role = Depends(require(*ANY_ROLE)),  # noqa: B008
) -> DriftOut:
    """Population stability index of every feature and of the score: the champion's training
    window against the invoices issued in the last ``days`` (``LATEPAY_DRIFT_DAYS``). The
    figures are also published in ``/metrics`` as ``latepay_drift_psi``."""
    state = request.app.state
    report = drift_report(state.engine, state.settings, days=days)
    state.metrics.drift(report.rows)
    return DriftOut(**report.to_dict())


class CalibrationBinOut(BaseModel):
    lower: float
    upper: float
    invoices: int
    mean_predicted: float
    observed_rate: float


class GroupPerformanceOut(BaseModel):
    group: str
    invoices: int
    late: int
    late_rate: float
    mean_predicted: float
    roc_auc: float | None = Field(description="None when the group is all late or all on time.")
    brier: float
    ece: float
    calibration: list[CalibrationBinOut] = Field(
        description="Ten equal-width bins of P(late); only the bins holding invoices."
    )


class PerformanceOut(BaseModel):
    as_of: dt.date = Field(description="Outcomes known before this day count.")
    since: dt.date | None
    matured: int = Field(description="Invoices measured: scored at issuance and matured.")
    not_matured: int = Field(description="Scored at issuance, outcome not known yet.")
    matured_unscored: int = Field(description="Matured, but never scored at issuance.")
    overall: GroupPerformanceOut
    by_month: list[GroupPerformanceOut]
    by_segment: list[GroupPerformanceOut]
    by_model_version: list[GroupPerformanceOut]


@router.get("/performance", response_model=PerformanceOut, responses={400: {}})
def performance(
    request: Request,
    since: Annotated[dt.date | None, Query(description="First issue day included.")] = None,
    _: Role = Depends(require(*ANY_ROLE)),  # noqa: B008
) -> PerformanceOut:
    """Live performance: each invoice's score at issuance against its outcome, once matured
    (settled, or overdue past the last lateness bucket): ROC AUC, Brier, ECE and calibration,
    overall and by month of issue, customer segment and model version. Without ``since``, the
    ROC AUCs are also published in ``/metrics`` as ``latepay_live_roc_auc``."""
    state = request.app.state
    report = live_performance(state.engine, state.settings, since=since)
    if since is None:  # the gauge always means the whole history
        state.metrics.live_performance(report)
    return PerformanceOut(**report.to_dict())
