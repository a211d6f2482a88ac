"""Reminder e-mails: rendered from Jinja2 templates, sent over SMTP.

Each template ``NAME`` of ``latepay/actions/templates/`` has three files: ``NAME.subject.j2``,
``NAME.txt.j2`` (the plain text) and ``NAME.html.j2`` (the HTML alternative). They receive
``customer_name``, ``invoices`` (each with ``invoice_id``, ``amount`` formatted in the invoice's
own currency, ``due_date`` and ``days_overdue``), ``totals`` (one per currency) and ``as_of``.

The ``Message-ID`` is derived from the reminder's idempotency key, so a message resent after a
crash carries the same id and a receiving system can recognise it as the same message.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import jinja2

from latepay.config import Settings
from latepay.errors import LatepayError

# ISO 4217 currencies without minor units; every other currency is shown with two decimals.
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "CLP", "ISK", "VND", "XOF", "XAF", "UGX"})
SMTP_TIMEOUT_SECONDS = 10.0


class TemplateError(LatepayError):
    """A reminder template is missing or fails to render."""


@dataclass(frozen=True)
class InvoiceLine:
    """One open invoice as a reminder lists it."""

    invoice_id: str
    amount: float
    currency: str | None
    due_date: dt.date


class Mailer(Protocol):
    """Something that hands a message to a mail server, raising when it is not accepted."""

    mail_from: str

    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """Sends through the SMTP server of the settings (host, port, STARTTLS, credentials)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mail_from = settings.mail_from

    def send(self, message: EmailMessage) -> None:
        """Send ``message``; returns only once the server accepted it, raises otherwise."""
        settings = self.settings
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                smtp.login(settings.smtp_user, password)
            smtp.send_message(message)


def format_amount(amount: float, currency: str | None) -> str:
    """``1234.5, 'EUR'`` -> ``'1,234.50 EUR'``; no decimals for currencies without minor units."""
    code = (currency or "").upper()
    decimals = 0 if code in ZERO_DECIMAL_CURRENCIES else 2
    return f"{amount:,.{decimals}f} {code}".rstrip()


def message_id(idempotency_key: str, mail_from: str) -> str:
    """A Message-ID that is the same for every attempt at the same reminder."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    domain = mail_from.rpartition("@")[2] or "latepay.invalid"
    return f"<reminder.{digest}@{domain}>"


def render_reminder(
    *,
    idempotency_key: str,
    template: str,
    to: str,
    customer_name: str | None,
    lines: list[InvoiceLine],
    as_of: dt.date,
    mail_from: str,
) -> EmailMessage:
    """The e-mail of one reminder: subject, plain text and HTML alternative.

    Raises
    ------
    TemplateError
        The template is missing or fails to render (an unknown variable, a syntax error).
    """
    context = {
        "customer_name": customer_name or "customer",
        "invoices": [
            {
                "invoice_id": line.invoice_id,
                "amount": format_amount(line.amount, line.currency),
                "due_date": f"{line.due_date:%Y-%m-%d}",
                "days_overdue": max((as_of - line.due_date).days, 0),
            }
            for line in lines
        ],
        "totals": _totals(lines),
        "as_of": f"{as_of:%Y-%m-%d}",
    }
    try:
        subject = _environment().get_template(f"{template}.subject.j2").render(context)
        text = _environment().get_template(f"{template}.txt.j2").render(context)
        html = _environment().get_template(f"{template}.html.j2").render(context)
    except jinja2.TemplateError as error:
        raise TemplateError(
            f"reminder template {template!r} failed to render: {type(error).__name__}: {error}"
        ) from error
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = mail_from
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(idempotency_key, mail_from)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _totals(lines: list[InvoiceLine]) -> list[str]:
    totals: dict[str, float] = {}
    for line in lines:
        totals[line.currency or ""] = totals.get(line.currency or "", 0.0) + line.amount
    return [format_amount(amount, currency) for currency, amount in sorted(totals.items())]


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("latepay.actions", "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
