"""Request and answer bodies of the HTTP API (GUIDE §5), validated by pydantic.

Bodies forbid unknown fields, so a misspelt field is a 422 that names it rather than a value
silently ignored.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True)]
FeatureValue = Annotated[str, StringConstraints(max_length=256)] | bool | int | float | None
RiskTier = Literal["low", "medium", "high", "critical"]
MAX_INVOICES_PER_REQUEST = 1000
MAX_AMOUNT = 1e13


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InvoiceTerms(_Body):
    """What can change about an invoice before it is issued (what-if scenarios)."""

    amount: float | None = Field(None, gt=0, lt=MAX_AMOUNT, allow_inf_nan=False)
    due_date: dt.date | None = None
    payment_terms_days: int | None = Field(None, ge=0, le=3650)
    currency: Currency | None = None
    payment_method: ShortText | None = None
    channel: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=32),
        ]
        | None
    ) = None


class InvoiceDraft(InvoiceTerms):
    """An invoice as issued; ``invoice_id`` may be left out when only scoring it."""

    invoice_id: Identifier | None = None
    customer_id: Identifier
    issue_date: dt.date
    amount: float = Field(gt=0, lt=MAX_AMOUNT, allow_inf_nan=False)
    features: dict[ShortText, FeatureValue] = Field(
        default_factory=dict,
        max_length=100,
        description="Extra invoice features the model was trained with, by source column name.",
    )

    @field_validator("features")
    @classmethod
    def _finite(cls, features: dict[str, Any]) -> dict[str, Any]:
        for name, value in features.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"feature {name!r} must be a finite number, not {value}")
        return features

    @model_validator(mode="after")
    def _due_date_known(self) -> InvoiceDraft:
        if self.due_date is None and self.payment_terms_days is None:
            raise ValueError("give due_date or payment_terms_days")
        if self.due_date is not None and self.due_date < self.issue_date:
            raise ValueError(f"due_date {self.due_date} is before issue_date {self.issue_date}")
        if self.due_date is not None and self.payment_terms_days is not None:
            terms = (self.due_date - self.issue_date).days
            if terms != self.payment_terms_days:
                raise ValueError(
                    f"due_date is {terms} days after issue_date but payment_terms_days is "
                    f"{self.payment_terms_days}; give one of them"
                )
        return self


class InvoiceIn(InvoiceDraft):
    """An invoice posted at issuance: stored and scored."""

    invoice_id: Identifier


class Reason(BaseModel):
    feature: str
    value: float | str | None
    contribution: float
    sentence: str


class Action(BaseModel):
    code: str
    text: str


class Score(BaseModel):
    """A score answer (GUIDE §5)."""

    invoice_id: str | None
    p_late: float
    bucket_probabilities: dict[str, float]
    expected_days_late: float
    risk_tier: RiskTier
    reasons: list[Reason]
    recommended_action: Action
    model_version: str
    as_of: dt.date


class RecordedScore(Score):
    scored_at: dt.datetime


class IssuedInvoice(RecordedScore):
    created: bool = Field(description="False when the same invoice was posted before.")


class IssuedInvoices(BaseModel):
    results: list[IssuedInvoice]


class WhatIf(_Body):
    """Score an invoice and variations of it; nothing is stored."""

    invoice: InvoiceDraft | None = Field(None, description="An invoice not (yet) stored.")
    invoice_id: Identifier | None = Field(None, description="A stored invoice, instead.")
    scenarios: list[InvoiceTerms] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _one_invoice(self) -> WhatIf:
        if (self.invoice is None) == (self.invoice_id is None):
            raise ValueError("give either invoice or invoice_id")
        return self


class Scenario(BaseModel):
    changes: dict[str, Any]
    score: Score
    p_late_change: float


class WhatIfAnswer(BaseModel):
    base: Score
    scenarios: list[Scenario]


class Payment(BaseModel):
    payment_id: str
    paid_date: dt.date
    amount: float


class InvoiceDetail(BaseModel):
    invoice_id: str
    customer_id: str
    issue_date: dt.date
    due_date: dt.date
    amount: float
    currency: str | None
    payment_method: str | None
    channel: str | None
    settled_date: dt.date | None
    status: Literal["open", "settled"]
    latest_score: RecordedScore | None
    payments: list[Payment]
    reminders: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]


class PaymentHistory(BaseModel):
    invoices: int
    settled: int
    paid_late: int
    late_share: float | None
    mean_days_late: float | None = Field(description="Over the invoices paid late.")


class SegmentChange(BaseModel):
    """A customer's segment and strategy from ``as_of`` on, with the inputs that decided it."""

    segment: str
    strategy: str
    as_of: dt.date = Field(description="The scoring day the segment was computed for.")
    computed_at: dt.datetime
    risk_score: float
    mean_p_late: float | None
    late_share: float | None
    open_invoices: int
    open_balance: float


class CustomerDetail(BaseModel):
    customer_id: str
    name: str | None
    industry: str | None
    country: str | None
    segment: str | None
    credit_limit: float | None
    payment_terms_days: int | None
    risk_segment: Literal["reliable", "watch", "at-risk", "critical"] | None = Field(
        description="From the open invoices' latest P(late) and the payment record (see "
        "latepay.actions.segments); none when nothing is open."
    )
    risk_score: float | None
    strategy: str | None = Field(
        description="protect the relationship, low-hanging fruit, escalate or automate."
    )
    history: PaymentHistory
    open_invoices: int
    open_balance: dict[str, float] = Field(description="Open amount by currency.")
    overdue_balance: dict[str, float] = Field(description="Past-due open amount by currency.")
    segment_history: list[SegmentChange] = Field(
        default_factory=list,
        description="Each change of segment or strategy recorded after a scoring run, oldest "
        "first (see latepay.actions.segment_history).",
    )


class PaymentIn(_Body):
    """A payment received; ``payment_id`` may be left out (derived from the rest)."""

    payment_id: Identifier | None = None
    invoice_id: Identifier
    paid_date: dt.date
    amount: float = Field(gt=-MAX_AMOUNT, lt=MAX_AMOUNT, allow_inf_nan=False)

    @field_validator("amount")
    @classmethod
    def _not_zero(cls, amount: float) -> float:
        if amount == 0:
            raise ValueError("a payment of 0 pays nothing")
        return amount


class PaymentRecorded(BaseModel):
    payment_id: str
    invoice_id: str
    created: bool = Field(description="False when the same payment was posted before.")


class InvoicePaymentStatus(BaseModel):
    invoice_id: str
    amount: float
    paid: float
    settled_date: dt.date | None
    status: Literal["open", "settled"]


class PaymentsRecorded(BaseModel):
    payments: list[PaymentRecorded]
    invoices: list[InvoicePaymentStatus]


OutcomeKind = Literal["promise_to_pay", "dispute_opened", "dispute_resolved", "contact", "note"]


class OutcomeIn(_Body):
    """What a collector learned about an invoice."""

    invoice_id: Identifier
    kind: OutcomeKind
    promised_date: dt.date | None = Field(None, description="For promise_to_pay: today or later.")
    contact_result: ShortText | None = Field(None, description="For contact: what came of it.")
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    date: dt.date | None = Field(None, description="When it happened; today by default.")

    @model_validator(mode="after")
    def _what_the_kind_needs(self) -> OutcomeIn:
        needs = {"promise_to_pay": "promised_date", "contact": "contact_result", "note": "note"}
        field = needs.get(self.kind)
        if field is not None and getattr(self, field) is None:
            raise ValueError(f"a {self.kind} outcome needs {field}")
        return self


class OutcomeRecorded(BaseModel):
    id: int
    invoice_id: str
    kind: OutcomeKind
    promised_date: dt.date | None
    contact_result: str | None
    note: str | None
    recorded_by: str
    recorded_at: dt.datetime
    dispute_id: str | None


EventType = Literal["invoice.high_risk", "invoice.tier_changed"]


class SubscriptionIn(_Body):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2048)]
    events: list[EventType] | None = Field(None, description="All event types when left out.")
    secret: Annotated[str, StringConstraints(min_length=16, max_length=128)] | None = Field(
        None, description="Signing secret; generated when left out."
    )


class SubscriptionOut(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: dt.datetime
    secret: str | None = Field(None, description="Shown once, when the subscription is made.")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    model_version: str | None
    # Whether posted invoices can be scored from the prepared ledger snapshot yet (they are
    # scored from the database meanwhile, alike but slower).
    ledger_snapshot: Literal["ready", "preparing"]
