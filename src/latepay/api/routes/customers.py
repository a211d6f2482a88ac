"""``GET /v1/customers/{id}``: a customer's risk, payment record and open balance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request

from latepay.actions.segment_history import segment_history
from latepay.actions.segments import customer_segments, strategy_of
from latepay.api.auth import ANY_ROLE, require
from latepay.api.keys import Role
from latepay.api.schemas import CustomerDetail, PaymentHistory, SegmentChange
from latepay.db.tables import Invoice, Prediction, customer_record, utcnow

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get("/{customer_id}", response_model=CustomerDetail, responses={404: {}})
def get_customer(
    customer_id: str,
    request: Request,
    _: Role = Depends(require(*ANY_ROLE)),  # noqa: B008
) -> CustomerDetail:
    state = request.app.state
    with state.engine.connect() as connection:
        customer = customer_record(connection, customer_id)
        invoices = pd.read_sql(
            sa.select(
                Invoice.invoice_id,
                Invoice.due_date,
                Invoice.settled_date,
                Invoice.amount,
                Invoice.currency,
                Invoice.is_credit_note,
            ).where(Invoice.customer_id == customer_id),
            connection,
        )
        open_ids = invoices.loc[invoices["settled_date"].isna(), "invoice_id"].tolist()
        latest_p_late = _latest_p_late(connection, open_ids)
        median_open_balance = _median_open_balance(connection)
        changes = segment_history(connection, customer_id)

    invoices = invoices[~invoices["is_credit_note"].astype(bool)]
    due = pd.to_datetime(invoices["due_date"])
    settled = pd.to_datetime(invoices["settled_date"])
    days_late = (settled - due).dt.days - state.settings.grace_days
    paid_late = days_late > 0
    is_open = settled.isna()
    overdue = is_open & (due < pd.Timestamp(utcnow().date()))
    currency = invoices["currency"].fillna("unknown")

    open_invoices = invoices.loc[is_open, ["amount", "invoice_id"]].assign(
        customer_id=customer_id, p_late=lambda f: f["invoice_id"].map(latest_p_late)
    )
    settled_count = int((~is_open).sum())
    history = pd.DataFrame(
        {"customer_id": [customer_id], "settled": [settled_count], "paid_late": [paid_late.sum()]}
    )
    segment = customer_segments(
        open_invoices, history, cutoffs=state.settings.segment_cutoffs
    ).to_dict("records")
    risk = segment[0] if segment else {}
    open_total = float(open_invoices["amount"].sum())
    high_value = open_total > 0 and open_total > median_open_balance
    return CustomerDetail(
        **{k: customer[k] for k in CustomerDetail.model_fields if k in customer},
        risk_segment=risk.get("segment"),
        risk_score=_number(risk.get("risk_score")),
        strategy=strategy_of(risk.get("segment"), high_value),
        history=PaymentHistory(
            invoices=len(invoices),
            settled=settled_count,
            paid_late=int(paid_late.sum()),
            late_share=float(paid_late.sum() / settled_count) if settled_count else None,
            mean_days_late=float(days_late[paid_late].mean()) if paid_late.any() else None,
        ),
        open_invoices=int(is_open.sum()),
        open_balance=invoices.loc[is_open].groupby(currency)["amount"].sum().round(2).to_dict(),
        overdue_balance=invoices.loc[overdue].groupby(currency)["amount"].sum().round(2).to_dict(),
        segment_history=[SegmentChange.model_validate(change) for change in changes],
    )


def _median_open_balance(connection) -> float:
    """The median open balance of the customers that have one: the line between high and
    low value, as in the worklist's segments."""
    balances = connection.scalars(
        sa.select(sa.func.sum(Invoice.amount))
        .where(Invoice.settled_date.is_(None), ~Invoice.is_credit_note)
        .group_by(Invoice.customer_id)
    ).all()
    positive = [float(b) for b in balances if b and b > 0]
    return float(np.median(positive)) if positive else 0.0


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _latest_p_late(connection, invoice_ids: list[str]) -> dict[str, float]:
    if not invoice_ids:
        return {}
    newest = (
        sa.select(sa.func.max(Prediction.id))
        .where(Prediction.invoice_id.in_(invoice_ids))
        .group_by(Prediction.invoice_id)
    )
    rows = connection.execute(
        sa.select(Prediction.invoice_id, Prediction.p_late).where(Prediction.id.in_(newest))
    )
    return dict(rows.all())
