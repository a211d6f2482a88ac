"""Credit terms that fit a customer's risk, with their effect estimated by what-if scoring
(issue 5, item 8).

What the AR manager would decide, by the customer's risk segment
(:mod:`latepay.actions.segments`):

============  ===============================================================================
segment       proposed terms
============  ===============================================================================
reliable      keep the terms
watch         shorter payment terms (:data:`SHORTER_BY_DAYS` fewer, at least
              :data:`MIN_TERMS_DAYS`)
at-risk       shorter payment terms, and the payment method with the best record
critical      a deposit (:data:`DEPOSIT_SHARE` of each invoice paid up front), the payment
              method with the best record, and a credit limit at today's open balance
============  ===============================================================================

The payment method with the best record is the one whose settled invoices (in the whole
ledger, before the day) were paid late least often, among methods with at least
:data:`MIN_METHOD_INVOICES` settled invoices; it is not proposed to a customer already using
it.

**Effect.** Each proposed change the model can see (terms, deposit, payment method) is scored
by what-if scoring (:func:`latepay.scoring.whatif.variations`) on the customer's open invoices
(its largest :data:`MAX_INVOICES` open on the day; if none, its largest issued in the last
:data:`RECENT_DAYS` days): each invoice as issued, and with the change, as of its issue date
and against the same history; the variations of all customers are scored in one call.
``p_late_now`` and ``p_late_after`` are the means over those invoices; ``p_late_proposed``
applies all scoreable changes at once. A credit limit is not scored: the model only sees it
through credit utilisation, and a lower limit raises that feature without saying how the
customer would behave under it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.actions.segments import customer_segments
from latepay.actions.worklist import settled_history
from latepay.config import Settings
from latepay.db.tables import Customer, Invoice, in_chunks
from latepay.features import Ledger
from latepay.models.training import LateModel
from latepay.scoring.records import latest_predictions
from latepay.scoring.score import score_invoices
from latepay.scoring.whatif import variations

SHORTER_BY_DAYS = 15
MIN_TERMS_DAYS = 7
DEPOSIT_SHARE = 0.3
MIN_METHOD_INVOICES = 30
MAX_INVOICES = 3
RECENT_DAYS = 90

SHORTER_TERMS = "shorter_terms"
DEPOSIT = "deposit"
PAYMENT_METHOD = "payment_method"
CREDIT_LIMIT = "credit_limit"
TERMS_BY_SEGMENT = {
    "reliable": (),
    "watch": (SHORTER_TERMS,),
    "at-risk": (SHORTER_TERMS, PAYMENT_METHOD),
    "critical": (DEPOSIT, PAYMENT_METHOD, CREDIT_LIMIT),
}


@dataclass(frozen=True)
class TermChange:
    """One proposed change; ``p_late_after`` is None when it cannot be scored."""

    kind: str
    text: str
    p_late_after: float | None


@dataclass(frozen=True)
class CreditTermsProposal:
    """Proposed terms for one customer and their estimated effect on P(late)."""

    customer_id: str
    segment: str
    open_balance: float
    invoices_scored: list[str]
    p_late_now: float | None
    p_late_proposed: float | None
    changes: list[TermChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def best_payment_method(
    invoices: pd.DataFrame, as_of: dt.date, *, grace_days: int = 0
) -> str | None:
    """The payment method paid late least often before ``as_of`` (see the module); None when
    no method has enough settled invoices."""
    settled = invoices[
        invoices["payment_method"].notna()
        & invoices["settled_date"].notna()
        & (invoices["settled_date"] < pd.Timestamp(as_of))
        & ~invoices["is_credit_note"].astype(bool)
    ]
    late = (settled["settled_date"] - settled["due_date"]).dt.days > grace_days
    record = late.groupby(settled["payment_method"]).agg(["size", "mean"])
    record = record[record["size"] >= MIN_METHOD_INVOICES]
    if record.empty:
        return None
    return str(record.sort_values(["mean", "size"], ascending=[True, False]).index[0])


def recommend_credit_terms(
    engine: Engine,
    model: LateModel,
    ledger: Ledger,
    *,
    as_of: dt.date,
    settings: Settings,
    customer_ids: Iterable[str] | None = None,
) -> list[CreditTermsProposal]:
    """Proposed credit terms of every customer with open invoices on ``as_of`` (or of
    ``customer_ids``), most at risk first.

    Parameters
    ----------
    engine : Engine
        A migrated latepay database with scored invoices (the segments come from them).
    model : LateModel
        The model whose what-if scores estimate the effect (the champion).
    ledger : Ledger
        What is known (:func:`latepay.features.load_ledger`).
    as_of : date
        The day of the proposal.
    settings : Settings
        Grace days, segment and risk-tier cut-offs.
    customer_ids : iterable of str, optional
        Only these customers.

    Returns
    -------
    list of CreditTermsProposal
        Sorted by segment (critical first), then open balance, largest first.
    """
    segments = _segments(engine, as_of, settings, customer_ids)
    segments = segments[segments["segment"].map(lambda segment: isinstance(segment, str))]
    method = best_payment_method(ledger.invoices, as_of, grace_days=settings.grace_days)
    by_customer = dict(tuple(ledger.invoices.groupby("customer_id", sort=False)))
    empty = ledger.invoices.iloc[0:0]
    plans = []
    frames = []
    for row in segments.itertuples(index=False):
        invoices = _invoices_to_score(by_customer.get(row.customer_id, empty), as_of)
        changes = _changes(row, TERMS_BY_SEGMENT[row.segment], invoices, method)
        scenarios = _scenarios(changes)
        for _, invoice in invoices.iterrows():
            frame = variations(invoice, [_for_invoice(change, invoice) for change in scenarios])
            frames.append(frame.assign(plan=len(plans), scenario=range(len(frame))))
        plans.append((row, invoices, changes, len(scenarios)))
    p_late = _score(model, ledger, frames, settings.risk_tier_cutoffs)
    proposals = [
        _proposal(row, invoices, changes, p_late.get(number, pd.Series(dtype=float)), scenarios)
        for number, (row, invoices, changes, scenarios) in enumerate(plans)
    ]
    order = {segment: rank for rank, segment in enumerate(reversed(list(TERMS_BY_SEGMENT)))}
    return sorted(proposals, key=lambda p: (order[p.segment], -p.open_balance, p.customer_id))


def _segments(
    engine: Engine, as_of: dt.date, settings: Settings, customer_ids: Iterable[str] | None
) -> pd.DataFrame:
    with engine.connect() as connection:
        query = sa.select(Invoice.invoice_id, Invoice.customer_id, Invoice.amount).where(
            Invoice.issue_date <= as_of,
            sa.or_(Invoice.settled_date.is_(None), Invoice.settled_date >= as_of),
            Invoice.is_credit_note.is_(False),
        )
        if customer_ids is not None:
            query = query.where(Invoice.customer_id.in_(sorted(set(customer_ids))))
        invoices = pd.DataFrame(
            connection.execute(query).all(), columns=["invoice_id", "customer_id", "amount"]
        )
        predictions = latest_predictions(connection, invoices["invoice_id"].tolist(), as_of)
        customers = sorted(set(invoices["customer_id"]))
        history = settled_history(connection, customers, as_of, grace_days=settings.grace_days)
        limits = {}
        for chunk in in_chunks(customers):
            limits.update(
                connection.execute(
                    sa.select(Customer.customer_id, Customer.credit_limit).where(
                        Customer.customer_id.in_(chunk)
                    )
                ).all()
            )
    invoices["amount"] = invoices["amount"].astype(float)
    invoices["p_late"] = (
        invoices["invoice_id"]
        .map({invoice_id: p["p_late"] for invoice_id, p in predictions.items()})
        .astype(float)
    )
    segments = customer_segments(invoices, history, cutoffs=settings.segment_cutoffs)
    segments["credit_limit"] = segments["customer_id"].map(limits)
    return segments


def _invoices_to_score(invoices: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    day = pd.Timestamp(as_of)
    usable = invoices[~invoices["is_credit_note"] & (invoices["issue_date"] <= day)]
    open_ = usable[usable["settled_date"].isna() | (usable["settled_date"] >= day)]
    if open_.empty:
        open_ = usable[usable["issue_date"] > day - pd.Timedelta(days=RECENT_DAYS)]
    return open_.sort_values(["amount", "invoice_id"], ascending=[False, True]).head(MAX_INVOICES)


def _changes(
    row: Any, kinds: tuple[str, ...], invoices: pd.DataFrame, method: str | None
) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(kind, text, what-if change or None when it cannot be scored) per proposed change."""
    changes = []
    terms = (invoices["due_date"] - invoices["issue_date"]).dt.days
    for kind in kinds:
        if kind == SHORTER_TERMS and len(terms):
            usual = int(terms.median())
            shorter = max(MIN_TERMS_DAYS, usual - SHORTER_BY_DAYS)
            if shorter < usual:
                changes.append(
                    (
                        kind,
                        f"shorten payment terms from {usual} to {shorter} days",
                        {"payment_terms_days": shorter},
                    )
                )
        elif kind == DEPOSIT:
            changes.append(
                (
                    kind,
                    f"ask for a deposit of {DEPOSIT_SHARE:.0%} of each invoice up front",
                    {"amount_share": 1 - DEPOSIT_SHARE},
                )
            )
        elif kind == PAYMENT_METHOD and method is not None:
            current = invoices["payment_method"].dropna()
            if current.empty or (current != method).any():
                changes.append((kind, f"ask to pay by {method}", {"payment_method": method}))
        elif kind == CREDIT_LIMIT:
            limit = row.open_balance
            if pd.notna(row.credit_limit) and row.credit_limit > 0:
                limit = min(limit, float(row.credit_limit))
            changes.append(
                (
                    kind,
                    f"set the credit limit at today's open balance, {limit:,.2f}: no new "
                    "credit until it is paid down",
                    None,
                )
            )
    return changes


def _scenarios(changes: list[tuple[str, str, dict[str, Any] | None]]) -> list[dict[str, Any]]:
    """Each scoreable change on its own, then all of them at once (none when none is)."""
    scoreable = [change for _, _, change in changes if change is not None]
    combined = {k: v for change in scoreable for k, v in change.items()}
    return [*scoreable, combined] if scoreable else []


def _score(
    model: LateModel,
    ledger: Ledger,
    frames: list[pd.DataFrame],
    tier_cutoffs: tuple[float, float, float],
) -> dict[int, pd.Series]:
    """Mean P(late) per plan and scenario (0 = the invoices as issued)."""
    if not frames:
        return {}
    rows = pd.concat(frames, ignore_index=True)
    scored = score_invoices(model, ledger, rows, tier_cutoffs=tier_cutoffs, reasons=0)
    rows["p_late"] = scored["p_late"].to_numpy()
    means = rows.groupby(["plan", "scenario"])["p_late"].mean()
    return {plan: means.loc[plan] for plan in means.index.get_level_values("plan").unique()}


def _proposal(
    row: Any,
    invoices: pd.DataFrame,
    changes: list[tuple[str, str, dict[str, Any] | None]],
    means: pd.Series,
    scenarios: int,
) -> CreditTermsProposal:
    def mean(scenario: int) -> float | None:
        return float(means.loc[scenario]) if scenario in means.index else None

    after = iter(range(1, scenarios + 1))
    return CreditTermsProposal(
        customer_id=row.customer_id,
        segment=row.segment,
        open_balance=float(row.open_balance),
        invoices_scored=invoices["invoice_id"].tolist(),
        p_late_now=mean(0),
        p_late_proposed=mean(scenarios) if scenarios else None,
        changes=[
            TermChange(kind, text, None if change is None else mean(next(after)))
            for kind, text, change in changes
        ],
    )


def _for_invoice(change: dict[str, Any], invoice: pd.Series) -> dict[str, Any]:
    """A change as :func:`score_variations` takes it; a deposit scales the invoice's amount."""
    out = {k: v for k, v in change.items() if k != "amount_share"}
    if "amount_share" in change:
        out["amount"] = float(invoice["amount"]) * change["amount_share"]
    return out
