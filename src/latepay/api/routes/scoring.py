"""``POST /v1/score``: what-if scoring of an invoice and variations of it; nothing is stored."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request

from latepay.api.answers import score_from_frame
from latepay.api.auth import ANY_ROLE, require
from latepay.api.keys import Role
from latepay.api.schemas import Scenario, WhatIf, WhatIfAnswer
from latepay.db.tables import Invoice
from latepay.errors import NotFoundError
from latepay.features import load_ledger
from latepay.scoring.issuance import canonical_records, check_invoice_features, invoice_frame
from latepay.scoring.whatif import score_variations

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.post(
    "/score",
    response_model=WhatIfAnswer,
    responses={404: {}, 503: {"description": "No champion model is being served yet."}},
)
def what_if(
    body: WhatIf,
    request: Request,
    _: Role = Depends(require(*ANY_ROLE)),  # noqa: B008
) -> WhatIfAnswer:
    """Score an invoice (sent in full, or a stored one by id) as of its issue date, and each
    scenario: the same invoice with some terms changed (amount, due date or payment terms,
    currency, payment method, channel)."""
    state = request.app.state
    model = state.champion.get()
    if body.invoice is not None:
        draft = body.invoice.model_dump()
        invoice_id = draft["invoice_id"]
        rows = canonical_records([{**draft, "invoice_id": invoice_id or "draft"}])
        check_invoice_features(model, rows)
        invoice = invoice_frame(rows).iloc[0]
        ledger = load_ledger(state.engine, customer_ids=[invoice["customer_id"]])
    else:
        invoice_id = body.invoice_id
        with state.engine.connect() as connection:
            customer_id = connection.scalar(
                sa.select(Invoice.customer_id).where(Invoice.invoice_id == invoice_id)
            )
        if customer_id is None:
            raise NotFoundError(f"no invoice {invoice_id!r}")
        ledger = load_ledger(state.engine, customer_ids=[customer_id])
        invoice = ledger.invoices.set_index("invoice_id", drop=False).loc[invoice_id]
    changes = [s.model_dump(exclude_none=True) for s in body.scenarios]
    scored = score_variations(
        model, ledger, invoice, changes, tier_cutoffs=state.settings.risk_tier_cutoffs
    )
    buckets = model.spec_.bucket_names
    answers = [
        score_from_frame(
            {**row, "invoice_id": invoice_id}, bucket_names=buckets, as_of=invoice["issue_date"]
        )
        for row in scored.to_dict("records")
    ]
    base = answers[0]
    return WhatIfAnswer(
        base=base,
        scenarios=[
            Scenario(changes=change, score=answer, p_late_change=answer.p_late - base.p_late)
            for change, answer in zip(changes, answers[1:], strict=True)
        ],
    )
