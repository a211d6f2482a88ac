"""``GET /v1/forecast``: expected cash-in per week with P10-P90 bands, by segment; the reserve."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from latepay.actions.worklist import default_as_of
from latepay.api.auth import require
from latepay.api.keys import Role
from latepay.errors import InputError
from latepay.planning.forecast import DEFAULT_WEEKS, MAX_WEEKS, build_forecast

router = APIRouter(prefix="/v1", tags=["planning"])


class WeekOut(BaseModel):
    """Cash expected from ``start`` to ``end`` (both included)."""

    week: int
    start: dt.date
    end: dt.date
    expected: float
    p10: float
    p50: float
    p90: float


class CashInOut(BaseModel):
    open_invoices: int
    open_amount: float
    weeks: list[WeekOut]
    after_horizon: float = Field(description="Expected amount paid after the last week, or never.")


class ReserveRowOut(BaseModel):
    segment: str
    open_invoices: int
    open_amount: float
    expected_over_30: float = Field(description="Expected amount paid over 30 days late or never.")
    expected_over_90: float = Field(description="Expected amount paid over 90 days late or never.")
    suggested_reserve: float


class ReserveOut(BaseModel):
    rows: list[ReserveRowOut]
    total: ReserveRowOut
    rate_over_30: float
    rate_over_90: float
    method: str


class CurrencyForecastOut(BaseModel):
    currency: str
    total: CashInOut
    segments: dict[str, CashInOut]
    reserve: ReserveOut
    unpredicted_invoices: int = Field(
        description="Open invoices never scored: forecast from their customer's history."
    )
    unpredicted_amount: float


class ForecastOut(BaseModel):
    as_of: dt.date
    weeks: int
    simulations: int
    seed: int
    currency_handling: str
    unpredicted_invoices: int
    currencies: list[CurrencyForecastOut]


@router.get("/forecast", response_model=ForecastOut, responses={422: {}})
def get_forecast(
    request: Request,
    weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS, description="Weeks to forecast.")] = (
        DEFAULT_WEEKS
    ),
    as_of: Annotated[
        str | None,
        Query(
            description="First day of the forecast, YYYY-MM-DD; default: the newest scoring run's."
        ),
    ] = None,
    _: Role = Depends(require(Role.VIEWER, Role.COLLECTOR)),  # noqa: B008
) -> ForecastOut:
    """Expected cash-in per week from each open invoice's latest score (simulated P10 / P50 /
    P90), by customer risk segment, with the suggested reserve; per currency."""
    state = request.app.state
    day = _parse_day(as_of) if as_of is not None else default_as_of(state.engine)
    forecast = build_forecast(state.engine, as_of=day, settings=state.settings, weeks=weeks)
    return ForecastOut(**forecast.to_dict())


def _parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"as_of must be a date like 2024-06-01, got {value!r}") from None
