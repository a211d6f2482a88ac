"""Database tables of GUIDE §2, as SQLAlchemy 2 declarative models.

Imported data (customers ... economic_indicators) carries a ``row_hash``: a fingerprint of the
canonical values as imported, so a re-import can tell unchanged rows from changed ones without
comparing every column. Tables written by latepay itself (predictions, outcomes, reminders,
models) have surrogate keys and timestamps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    RowMapping,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from latepay.errors import NotFoundError

# Money is exact in the database (NUMERIC); analytics read it as float.
Money = Numeric(18, 4, asdecimal=False)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Timezone-aware now, the only clock the tables use."""
    return dt.datetime.now(dt.UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored moment as an aware UTC datetime.

    SQLite gives back naive datetimes (all stored in UTC); PostgreSQL, the session's zone.
    """
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def in_chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    """``values`` in slices short enough for one SQL ``IN (...)`` on every back end."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar = {dict[str, Any]: JSON, dt.datetime: DateTime(timezone=True)}


class Customer(Base):
    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(64), index=True)
    country: Mapped[str | None] = mapped_column(String(64), index=True)
    segment: Mapped[str | None] = mapped_column(String(64))
    credit_limit: Mapped[float | None] = mapped_column(Money)
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)
    customer_since: Mapped[dt.date | None] = mapped_column(Date)
    excluded_from_outreach: Mapped[bool] = mapped_column(Boolean, default=False)
    # Created because an invoice referenced it before any customer file did.
    auto_created: Mapped[bool] = mapped_column(Boolean, default=False)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    row_hash: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Raised by database triggers whenever anything features read about the customer changes
    # (see :mod:`latepay.scoring.ledger_state`); never written by latepay itself.
    ledger_revision: Mapped[int] = mapped_column(Integer, server_default="0")


class LedgerRevision(Base):
    """One row, raised by triggers when what every customer's features read changes: economic
    indicators, or a customer deleted."""

    __tablename__ = "ledger_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, server_default="0")


class IssuedRevision(Base):
    """A step the scoring service raised a customer's ``ledger_revision`` by, from
    ``revision_before`` to ``revision_after``, by storing invoices at issuance and nothing else.

    Those invoices change no feature before ``counts_from`` (their first event: the issue day,
    or the due day if earlier), so a process whose snapshot has ``revision_before`` may keep
    answering the customer from it up to that day (:mod:`latepay.scoring.ledger_state`).
    """

    __tablename__ = "issued_revisions"
    __table_args__ = (Index("ix_issued_revisions_customer_after", "customer_id", "revision_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    revision_before: Mapped[int] = mapped_column(Integer)
    revision_after: Mapped[int] = mapped_column(Integer)
    counts_from: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_customer_issue", "customer_id", "issue_date"),
        # Open invoices only, with what their balances sum: a customer's view weighs its open
        # balance against every customer's, and a full scan of a million invoices for that
        # took 0.8 s (7.5 ms from this index).
        Index(
            "ix_invoices_open",
            "customer_id",
            "amount",
            "is_credit_note",
            sqlite_where=text("settled_date IS NULL"),
            postgresql_where=text("settled_date IS NULL"),
        ),
    )

    invoice_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    issue_date: Mapped[dt.date] = mapped_column(Date, index=True)
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[float] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    payment_method: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    settled_date: Mapped[dt.date | None] = mapped_column(Date)
    # Negative amounts: kept for the ledger, excluded from training.
    is_credit_note: Mapped[bool] = mapped_column(Boolean, default=False)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    row_hash: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Payment(Base):
    __tablename__ = "payments"

    payment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.invoice_id"), index=True)
    paid_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[float] = mapped_column(Money)
    row_hash: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Dispute(Base):
    __tablename__ = "disputes"

    dispute_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invoice_id: Mapped[str | None] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    opened_date: Mapped[dt.date] = mapped_column(Date)
    resolved_date: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(255))
    row_hash: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Interaction(Base):
    __tablename__ = "interactions"

    interaction_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str | None] = mapped_column(String(64))
    topic: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EconomicIndicator(Base):
    """One published value of an indicator; ``key`` is an industry, a country or '' (global)."""

    __tablename__ = "economic_indicators"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    period: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    row_hash: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_invoice_scored", "invoice_id", "scored_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(64), index=True)
    as_of: Mapped[dt.datetime]
    scored_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    inputs_hash: Mapped[str] = mapped_column(String(64))
    p_late: Mapped[float] = mapped_column(Float)
    bucket_probabilities: Mapped[dict[str, Any]] = mapped_column(JSON)
    expected_days_late: Mapped[float] = mapped_column(Float)
    risk_tier: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Outcome(Base):
    """What a collector learned: a promise to pay, a dispute, a contact result or a note."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.invoice_id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    promised_date: Mapped[dt.date | None] = mapped_column(Date)
    paid_date: Mapped[dt.date | None] = mapped_column(Date)
    contact_result: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(128))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Reminder(Base):
    """A message scheduled or sent; ``idempotency_key`` makes sending at most once."""

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    invoice_ids: Mapped[dict[str, Any]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    template: Mapped[str] = mapped_column(String(128))
    scheduled_for: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CustomerSegmentChange(Base):
    """A customer's risk segment or strategy as it changed after a scoring run, with the inputs
    that decided it (see latepay.actions.segment_history)."""

    __tablename__ = "customer_segment_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    segment: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[dt.date] = mapped_column(Date)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    risk_score: Mapped[float] = mapped_column(Float)
    mean_p_late: Mapped[float | None] = mapped_column(Float)
    late_share: Mapped[float | None] = mapped_column(Float)
    settled: Mapped[int] = mapped_column(Integer)
    open_invoices: Mapped[int] = mapped_column(Integer)
    open_balance: Mapped[float] = mapped_column(Money)
    high_value: Mapped[bool] = mapped_column(Boolean)


class ModelVersion(Base):
    """The registry: one row per trained model, pointing at its folder."""

    __tablename__ = "models"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    path: Mapped[str] = mapped_column(String(1024))
    data_hash: Mapped[str] = mapped_column(String(64))
    trained_from: Mapped[dt.date | None] = mapped_column(Date)
    trained_to: Mapped[dt.date | None] = mapped_column(Date)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decision: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[dt.datetime | None]


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; the prefix lets people tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class WebhookSubscription(Base):
    """A CRM or billing endpoint that receives score events, signed with its ``secret``."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048))
    # Kept in clear: it is the shared secret both sides sign with, not a credential to latepay.
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one event for one subscriber, delivered (with retries) apart from scoring."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def customer_record(connection: Connection, customer_id: str) -> RowMapping:
    """The customers row of ``customer_id``.

    Raises
    ------
    NotFoundError
        When there is no such customer.
    """
    customer = (
        connection.execute(select(Customer).where(Customer.customer_id == customer_id))
        .mappings()
        .first()
    )
    if customer is None:
        raise NotFoundError(f"no customer {customer_id!r}")
    return customer
