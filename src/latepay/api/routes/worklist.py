"""``GET /v1/worklist``: open invoices ranked by expected late amount, with the next action."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from latepay.actions.worklist import build_worklist, default_as_of
from latepay.api.auth import require
from latepay.api.keys import Role
from latepay.errors import InputError

router = APIRouter(prefix="/v1", tags=["worklist"])

MAX_LIMIT = 5000


class WorkItemOut(BaseModel):
    """One open invoice; ``days_past_due`` is negative before the due date."""

    section: str
    rank: int | None
    invoice_id: str
    customer_id: str
    customer_name: str | None
    amount: float
    currency: str | None
    due_date: dt.date
    days_past_due: int
    p_late: float
    expected_days_late: float
    risk_tier: str
    expected_late_amount: float
    priority: float
    reasons: list[str]
    action: str
    action_text: str
    action_date: dt.date
    segment: str | None
    strategy: str | None
    collector: str | None
    broken_promise: bool
    promised_date: dt.date | None
    dispute_id: str | None


class WorklistOut(BaseModel):
    as_of: dt.date
    open_invoices: int
    to_work_total: int
    unscored: int
    unscored_amount: float
    collector_loads: dict[str, float]
    to_work: list[WorkItemOut]
    promised: list[WorkItemOut]
    disputed: list[WorkItemOut]


@router.get("/worklist", response_model=WorklistOut, responses={422: {}})
def get_worklist(
    request: Request,
    as_of: Annotated[
        str | None,
        Query(description="Day of the list, YYYY-MM-DD; default: the newest scoring run's."),
    ] = None,
    collectors: Annotated[
        str | None, Query(description="Comma-separated collector names to assign work to.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Invoices to work.")] = 100,
    _: Role = Depends(require(Role.COLLECTOR, Role.VIEWER)),  # noqa: B008
) -> WorklistOut:
    """Invoices to work ranked by amount x P(late) x (1 + expected days late / 30); those
    under an unbroken promise to pay or an open dispute apart."""
    state = request.app.state
    day = _parse_day(as_of) if as_of is not None else default_as_of(state.engine)
    worklist = build_worklist(
        state.engine,
        as_of=day,
        settings=state.settings,
        collectors=collectors.split(",") if collectors is not None else None,
        limit=limit,
    )
    return WorklistOut(**worklist.to_dict())


def _parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"as_of must be a date like 2024-06-01, got {value!r}") from None
