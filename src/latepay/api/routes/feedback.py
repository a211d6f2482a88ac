"""What happened: payments from the billing system, outcomes from collectors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response, status

from latepay.api.auth import require
from latepay.api.keys import Role
from latepay.api.schemas import (
    MAX_INVOICES_PER_REQUEST,
    OutcomeIn,
    OutcomeRecorded,
    PaymentIn,
    PaymentsRecorded,
)
from latepay.learning.feedback import record_outcome, record_payments

router = APIRouter(prefix="/v1", tags=["feedback"])

PaymentList = Annotated[list[PaymentIn], Body(min_length=1, max_length=MAX_INVOICES_PER_REQUEST)]


@router.post(
    "/payments",
    response_model=PaymentsRecorded,
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "An unknown invoice."}, 409: {}},
)
def post_payments(
    body: Annotated[PaymentIn | PaymentList, Body()],
    request: Request,
    response: Response,
    _: Role = Depends(require(Role.BILLING)),  # noqa: B008
) -> PaymentsRecorded:
    """Store payments (idempotent on payment_id) and settle the invoices they cover; partial
    payments add up. A settled invoice becomes a training label."""
    payments = body if isinstance(body, list) else [body]
    recorded = record_payments(request.app.state.engine, [p.model_dump() for p in payments])
    if not any(p["created"] for p in recorded.payments):
        response.status_code = status.HTTP_200_OK
    return PaymentsRecorded(payments=recorded.payments, invoices=recorded.invoices)


@router.post(
    "/outcomes",
    response_model=OutcomeRecorded,
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "An unknown invoice."}, 409: {}},
)
def post_outcome(
    body: OutcomeIn,
    request: Request,
    role: Role = Depends(require(Role.COLLECTOR)),  # noqa: B008
) -> OutcomeRecorded:
    """Record a promise to pay, a dispute opened or resolved, a contact result or a note."""
    recorded = record_outcome(
        request.app.state.engine, body.model_dump(), recorded_by=f"{role.value} key"
    )
    return OutcomeRecorded(**recorded)
