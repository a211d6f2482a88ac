"""What actually happened: payments that settle invoices, and what collectors learned.

Payments posted by the billing system settle invoices (partial payments add up, as on import),
which turns them into training labels. Collector outcomes are kept as they were recorded; a
dispute opened or resolved also updates ``disputes``, which later scores use as a feature.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.tables import Dispute, Invoice, Outcome, Payment, utcnow
from latepay.errors import ConflictError, InputError, NotFoundError
from latepay.ingest.fingerprint import derived_ids, fingerprints
from latepay.ingest.settlement import resettle_invoices

PAYMENT_KEY_FROM = ["invoice_id", "paid_date", "amount"]
OUTCOME_KINDS = ("promise_to_pay", "dispute_opened", "dispute_resolved", "contact", "note")


@dataclass(frozen=True)
class PaymentsRecorded:
    """Per payment whether it was new; per invoice touched, where its payments leave it."""

    payments: list[dict[str, Any]]
    invoices: list[dict[str, Any]]


def record_payments(engine: Engine, payments: Sequence[dict[str, Any]]) -> PaymentsRecorded:
    """Store payments (idempotent on payment_id) and settle the invoices they cover.

    A payment without an id gets one derived from its invoice, date and amount, so posting the
    same payment again does not count it twice.

    Raises
    ------
    NotFoundError
        When a payment names an invoice that does not exist (nothing is stored).
    ConflictError
        When a payment id is already used for another payment (nothing is stored).
    """
    frame = pd.DataFrame(
        {
            "payment_id": [p.get("payment_id") for p in payments],
            "invoice_id": [str(p["invoice_id"]) for p in payments],
            "paid_date": pd.to_datetime([p["paid_date"] for p in payments]).astype("datetime64[s]"),
            "amount": [float(p["amount"]) for p in payments],
        }
    )
    missing_id = frame["payment_id"].isna()
    if missing_id.any():
        derived = derived_ids("pay-", frame[missing_id], PAYMENT_KEY_FROM)
        frame.loc[missing_id, "payment_id"] = derived
    frame["row_hash"] = fingerprints(frame, ["payment_id", *PAYMENT_KEY_FROM])
    repeated = frame.drop_duplicates(["payment_id", "row_hash"])["payment_id"].duplicated()
    if repeated.any():
        raise InputError("a payment id appears twice in the request with different content")
    frame = frame.drop_duplicates("payment_id")

    now = utcnow()
    with engine.begin() as connection:
        known_invoices = set(
            connection.scalars(
                sa.select(Invoice.invoice_id).where(Invoice.invoice_id.in_(frame["invoice_id"]))
            )
        )
        unknown = sorted(set(frame["invoice_id"]) - known_invoices)
        if unknown:
            raise NotFoundError(f"no invoices {unknown}; post the invoices before their payments")
        stored = dict(
            connection.execute(
                sa.select(Payment.payment_id, Payment.row_hash).where(
                    Payment.payment_id.in_(frame["payment_id"])
                )
            ).all()
        )
        conflicting = sorted(
            i
            for i, h in zip(frame["payment_id"], frame["row_hash"], strict=True)
            if i in stored and stored[i] != h
        )
        if conflicting:
            raise ConflictError(
                f"payments {conflicting} already exist with different content; a payment id "
                "can be used once"
            )
        new = frame[~frame["payment_id"].isin(stored.keys())]
        if len(new):
            connection.execute(
                sa.insert(Payment),
                [
                    {**row, "paid_date": row["paid_date"].date(), "updated_at": now}
                    for row in new.to_dict("records")
                ],
            )
            resettle_invoices(connection, new["invoice_id"], now=now)
        invoices = _payment_status(connection, sorted(set(frame["invoice_id"])))
    return PaymentsRecorded(
        payments=[
            {"payment_id": p, "invoice_id": i, "created": p not in stored}
            for p, i in zip(frame["payment_id"], frame["invoice_id"], strict=True)
        ],
        invoices=invoices,
    )


def _payment_status(connection, invoice_ids: list[str]) -> list[dict[str, Any]]:
    paid = (
        sa.select(Payment.invoice_id, sa.func.sum(Payment.amount).label("paid"))
        .where(Payment.invoice_id.in_(invoice_ids))
        .group_by(Payment.invoice_id)
        .subquery()
    )
    rows = connection.execute(
        sa.select(Invoice.invoice_id, Invoice.amount, Invoice.settled_date, paid.c.paid)
        .join(paid, paid.c.invoice_id == Invoice.invoice_id)
        .order_by(Invoice.invoice_id)
    ).mappings()
    return [
        {
            "invoice_id": row["invoice_id"],
            "amount": row["amount"],
            "paid": round(float(row["paid"]), 4),
            "settled_date": row["settled_date"],
            "status": "open" if row["settled_date"] is None else "settled",
        }
        for row in rows
    ]


def record_outcome(
    engine: Engine, outcome: dict[str, Any], *, recorded_by: str, today: dt.date | None = None
) -> dict[str, Any]:
    """Store what a collector learned about an invoice; disputes also update ``disputes``.

    ``outcome`` holds invoice_id, kind (one of :data:`OUTCOME_KINDS`) and, as the kind needs,
    promised_date, contact_result, note and ``date`` (when it happened; today by default).

    Raises
    ------
    NotFoundError
        For an unknown invoice.
    InputError
        For a promise to pay on a day already past.
    ConflictError
        For a dispute opened on an invoice already disputed, or resolved when none is open.
    """
    today = today or utcnow().date()
    kind = outcome["kind"]
    if kind not in OUTCOME_KINDS:
        raise InputError(f"unknown outcome kind {kind!r}; expected one of {OUTCOME_KINDS}")
    happened = outcome.get("date") or today
    promised = outcome.get("promised_date")
    if kind == "promise_to_pay" and (promised is None or promised < today):
        raise InputError(
            f"a promise to pay needs a promised_date from today ({today}) on, got {promised}"
        )
    with engine.begin() as connection:
        customer_id = connection.scalar(
            sa.select(Invoice.customer_id).where(Invoice.invoice_id == outcome["invoice_id"])
        )
        if customer_id is None:
            raise NotFoundError(f"no invoice {outcome['invoice_id']!r}")
        open_dispute = connection.scalar(
            sa.select(Dispute.dispute_id).where(
                Dispute.invoice_id == outcome["invoice_id"], Dispute.resolved_date.is_(None)
            )
        )
        dispute_id = None
        if kind == "dispute_opened":
            if open_dispute is not None:
                raise ConflictError(
                    f"invoice {outcome['invoice_id']!r} already has an open dispute "
                    f"({open_dispute}); resolve it first"
                )
            dispute_id = _open_dispute(connection, outcome, customer_id, happened)
        elif kind == "dispute_resolved":
            if open_dispute is None:
                raise ConflictError(f"invoice {outcome['invoice_id']!r} has no open dispute")
            connection.execute(
                sa.update(Dispute)
                .where(Dispute.dispute_id == open_dispute)
                .values(resolved_date=happened, updated_at=utcnow())
            )
            dispute_id = open_dispute
        values = {
            "invoice_id": outcome["invoice_id"],
            "kind": kind,
            "promised_date": promised,
            "contact_result": outcome.get("contact_result"),
            "note": outcome.get("note"),
            "recorded_by": recorded_by,
            "recorded_at": utcnow(),
        }
        outcome_id = connection.execute(
            sa.insert(Outcome).values(**values).returning(Outcome.id)
        ).scalar_one()
    return {"id": outcome_id, **values, "dispute_id": dispute_id}


def _open_dispute(connection, outcome: dict[str, Any], customer_id: str, opened: dt.date) -> str:
    # A random id: the same invoice may be disputed again, even on the same day, once resolved.
    dispute_id = f"dsp-{uuid.uuid4().hex[:20]}"
    row = pd.DataFrame(
        {
            "dispute_id": [dispute_id],
            "invoice_id": [outcome["invoice_id"]],
            "customer_id": [customer_id],
            "opened_date": pd.to_datetime([opened]).astype("datetime64[s]"),
            "reason": [outcome.get("note")],
        }
    )
    connection.execute(
        sa.insert(Dispute).values(
            dispute_id=dispute_id,
            invoice_id=outcome["invoice_id"],
            customer_id=customer_id,
            opened_date=opened,
            reason=outcome.get("note"),
            row_hash=fingerprints(row, list(row.columns)).iloc[0],
            updated_at=utcnow(),
        )
    )
    return dispute_id
