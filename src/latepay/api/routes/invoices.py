"""Invoices at issuance: ``POST /v1/invoices`` stores and scores; ``GET`` reads one back."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Request, Response, status

from latepay.api.answers import issued_from_record, recorded_score
from latepay.api.auth import ANY_ROLE, require
from latepay.api.keys import Role
from latepay.api.schemas import (
    MAX_INVOICES_PER_REQUEST,
    InvoiceDetail,
    InvoiceIn,
    IssuedInvoice,
    IssuedInvoices,
)
from latepay.db.tables import Invoice, Outcome, Payment, Prediction, Reminder
from latepay.errors import NotFoundError
from latepay.scoring.issuance import IssuanceResult, canonical_records, check_invoice_features

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])

InvoiceList = Annotated[list[InvoiceIn], Body(min_length=1, max_length=MAX_INVOICES_PER_REQUEST)]
ERRORS = {
    409: {"description": "An invoice id is already used by different content."},
    503: {"description": "No champion model is being served yet."},
}


@router.post(
    "",
    response_model=IssuedInvoice | IssuedInvoices,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    summary="Store and score invoices at issuance (one, or a list)",
)
async def post_invoices(
    request: Request,
    body: Annotated[InvoiceIn | InvoiceList, Body()],
    _: Role = Depends(require(Role.BILLING)),  # noqa: B008
) -> Response:
    """Each invoice is scored as of its issue date. Posting the same invoice again returns the
    answer it got the first time (200); an id already used for different content is a 409 and
    nothing of the request is stored."""
    records = body if isinstance(body, list) else [body]
    rows = canonical_records([r.model_dump() for r in records])
    check_invoice_features(request.app.state.champion.get(), rows)
    result: IssuanceResult = await request.app.state.issuer.submit(rows)
    answers = [
        issued_from_record(score, created=created)
        for score, created in zip(result.scores, result.created, strict=True)
    ]
    by_id = {a.invoice_id: a for a in answers}
    answers = [by_id[r.invoice_id] for r in records]
    answer = IssuedInvoices(results=answers) if isinstance(body, list) else answers[0]
    # Built and checked here already: the route's response model would check it once more.
    return Response(
        answer.model_dump_json(),
        status_code=status.HTTP_201_CREATED if any(result.created) else status.HTTP_200_OK,
        media_type="application/json",
    )


@router.get("/{invoice_id}", response_model=InvoiceDetail, responses={404: {}})
def get_invoice(
    invoice_id: str,
    request: Request,
    _: Role = Depends(require(*ANY_ROLE)),  # noqa: B008
) -> InvoiceDetail:
    """The invoice, its latest score with reasons, its payments, reminders and outcomes."""
    engine = request.app.state.engine
    with engine.connect() as connection:
        invoice = (
            connection.execute(sa.select(Invoice).where(Invoice.invoice_id == invoice_id))
            .mappings()
            .first()
        )
        if invoice is None:
            raise NotFoundError(f"no invoice {invoice_id!r}")
        latest = (
            connection.execute(
                sa.select(Prediction.__table__)
                .where(Prediction.invoice_id == invoice_id)
                .order_by(Prediction.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        payments = connection.execute(
            sa.select(Payment.payment_id, Payment.paid_date, Payment.amount)
            .where(Payment.invoice_id == invoice_id)
            .order_by(Payment.paid_date)
        ).mappings()
        outcomes = connection.execute(
            sa.select(Outcome.__table__)
            .where(Outcome.invoice_id == invoice_id)
            .order_by(Outcome.recorded_at)
        ).mappings()
        reminders = connection.execute(
            sa.select(Reminder.__table__)
            .where(Reminder.customer_id == invoice["customer_id"])
            .order_by(Reminder.scheduled_for)
        ).mappings()
        return InvoiceDetail(
            **{k: invoice[k] for k in InvoiceDetail.model_fields if k in invoice},
            status="open" if invoice["settled_date"] is None else "settled",
            latest_score=None if latest is None else recorded_score(latest),
            payments=[dict(p) for p in payments],
            outcomes=[dict(o) for o in outcomes],
            # A reminder names the invoices it is about; those about others are not this one's.
            reminders=[
                dict(r) for r in reminders if invoice_id in _named_invoices(r["invoice_ids"])
            ],
        )


def _named_invoices(invoice_ids) -> list[str]:
    if isinstance(invoice_ids, dict):
        return list(invoice_ids.get("invoice_ids", []))
    return list(invoice_ids or [])
