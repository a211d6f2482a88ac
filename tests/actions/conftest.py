"""A small hand-made ledger of open invoices, a real SMTP server on 127.0.0.1 (aiosmtpd),
and a mailer that only records."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from latepay.actions.mail import SmtpMailer
from latepay.config import Settings
from latepay.db.tables import Customer, Invoice, Prediction, Reminder

AS_OF = dt.date(2024, 6, 10)


def add_customer(
    engine: Engine, customer_id: str, *, email: str | None = None, excluded: bool = False
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Customer).values(
                customer_id=customer_id,
                name=f"Customer {customer_id}",
                email=email if email is not None else f"ap@{customer_id.lower()}.example",
                excluded_from_outreach=excluded,
                row_hash="x",
            )
        )


def add_invoice(
    engine: Engine,
    invoice_id: str,
    customer_id: str,
    *,
    due: dt.date,
    amount: float = 1000.0,
    currency: str = "EUR",
    settled: dt.date | None = None,
    credit_note: bool = False,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Invoice).values(
                invoice_id=invoice_id,
                customer_id=customer_id,
                issue_date=due - dt.timedelta(days=30),
                due_date=due,
                amount=amount,
                currency=currency,
                settled_date=settled,
                is_credit_note=credit_note,
                row_hash="x",
            )
        )


def add_prediction(engine: Engine, invoice_id: str, tier: str, *, as_of: dt.date) -> None:
    moment = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Prediction).values(
                invoice_id=invoice_id,
                model_version="test",
                as_of=moment,
                scored_at=moment,
                inputs_hash="x",
                p_late=0.5,
                bucket_probabilities={},
                expected_days_late=0.0,
                risk_tier=tier,
            )
        )


def reminder_rows(engine: Engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Reminder).order_by(Reminder.id)).mappings()
        return [dict(row) for row in rows]


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    """Customers and open invoices around AS_OF (2024-06-10), on SQLite and PostgreSQL.

    On AS_OF with the default policy:
    C1 (never scored: medium) has INV1 at -3d and INV2 at +7d: one message with both.
    C2 is excluded from outreach, C3 has no e-mail: nothing.
    C4 (high) has INV5 at -1d; its -7d step was 6 days ago: skipped.
    C5's invoice is settled, C6's credit note is not an invoice to remind.
    """
    for customer_id in ("C1", "C4", "C5", "C6"):
        add_customer(engine, customer_id)
    add_customer(engine, "C2", excluded=True)
    add_customer(engine, "C3", email="")
    add_invoice(engine, "INV1", "C1", due=AS_OF + dt.timedelta(days=3), amount=1250.5)
    add_invoice(
        engine, "INV2", "C1", due=AS_OF - dt.timedelta(days=7), amount=150000, currency="JPY"
    )
    add_invoice(engine, "INV3", "C2", due=AS_OF + dt.timedelta(days=3))
    add_invoice(engine, "INV4", "C3", due=AS_OF + dt.timedelta(days=3))
    add_invoice(engine, "INV5", "C4", due=AS_OF + dt.timedelta(days=1))
    add_invoice(
        engine, "INV6", "C5", due=AS_OF + dt.timedelta(days=3), settled=AS_OF - dt.timedelta(days=2)
    )
    add_invoice(
        engine, "INV7", "C6", due=AS_OF + dt.timedelta(days=3), amount=-50, credit_note=True
    )
    add_prediction(engine, "INV5", "high", as_of=AS_OF - dt.timedelta(days=20))
    # Scored after AS_OF: must not count on AS_OF.
    add_prediction(engine, "INV5", "low", as_of=AS_OF + dt.timedelta(days=1))
    return engine


class RecordingMailer:
    """A mailer that keeps the messages instead of sending them."""

    mail_from = "ar@seller.example"

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.messages.append(message)


@pytest.fixture
def recording_mailer() -> RecordingMailer:
    return RecordingMailer()


class _Inbox:
    """aiosmtpd handler: every message that arrives, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    """A real SMTP server on 127.0.0.1: (its inbox, its port)."""
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def smtp_mailer(port: int) -> SmtpMailer:
    return SmtpMailer(
        Settings(smtp_host="127.0.0.1", smtp_port=port, mail_from="ar@seller.example")
    )
