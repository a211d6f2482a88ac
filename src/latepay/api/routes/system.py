"""Operations: ``/healthz`` for load balancers, ``/metrics`` for Prometheus."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from latepay.api.auth import ANY_ROLE, require
from latepay.api.keys import Role
from latepay.api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(request: Request) -> Response:
    """Up when the database answers and a champion model is served; no key needed."""
    state = request.app.state
    try:
        with state.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "unreachable"
    version = state.champion.version
    healthy = database == "ok" and version is not None
    body = Health(
        status="ok" if healthy else "degraded",
        database=database,
        model_version=version,
        ledger_snapshot="ready" if state.ledger_state.ready else "preparing",
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request, _: Role = Depends(require(*ANY_ROLE))) -> Response:  # noqa: B008
    """Prometheus metrics: requests and latency by route, scores by tier, the champion."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
