"""The canonical entities of GUIDE §2 as the importer sees them: fields, kinds, keys, order.

A mapping names, for each canonical field, the source column that holds it; the field's
:class:`Kind` says how its text is normalised and checked. This module is the single place
that knows which fields exist, which are required and which table each entity fills.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import sqlalchemy as sa

from latepay.db.tables import (
    Customer,
    Dispute,
    EconomicIndicator,
    Interaction,
    Invoice,
    Payment,
)


class Kind(enum.Enum):
    """How the text of a source column becomes a canonical value."""

    IDENTIFIER = "identifier"  # whitespace stripped, nothing else: ids keep their leading zeros
    TEXT = "text"
    LOWERCASE = "lowercase"  # channels: "Paper" and "paper" are the same channel
    CURRENCY = "currency"  # ISO 4217, three letters, upper-cased
    DATE = "date"
    PERIOD = "period"  # a date, or YYYY-MM meaning the first day of that month
    AMOUNT = "amount"  # money: decimal point or (unambiguous) decimal comma
    NUMBER = "number"
    DAYS = "days"  # a whole, non-negative number of days
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class CanonicalField:
    """One canonical field: its name, its kind and whether a mapping must provide it.

    ``stored`` is False for a field that only derives another one (an invoice's
    ``payment_terms_days`` gives its ``due_date``; invoices have no terms column).
    """

    name: str
    kind: Kind
    required: bool = False
    stored: bool = True


@dataclass(frozen=True)
class EntitySpec:
    """What the importer needs to know about one entity.

    Attributes
    ----------
    name
        The entity's name in a mapping file, which is also its table's name.
    table
        The table its rows are written to.
    key
        The field(s) identifying a row; re-importing a row with the same key updates it.
    fields
        The canonical fields a mapping may name, by name.
    one_of_required
        Groups of fields of which a mapping must name at least one.
    derived_key_prefix
        When set, the (single) key may be left out of the mapping and is derived from
        ``derived_key_from`` plus the occurrence index of identical rows.
    refers_to_customers
        Rows name a ``customer_id`` that must exist; unknown ones are created.
    keeps_features
        The table has an ``extra`` JSON column for the mapping's ``features``.
    aliases
        Other names accepted for a field (GUIDE §3 names an indicator's key ``industry``).
    """

    name: str
    table: sa.Table
    key: tuple[str, ...]
    fields: dict[str, CanonicalField]
    one_of_required: tuple[tuple[str, ...], ...] = ()
    derived_key_prefix: str | None = None
    derived_key_from: tuple[str, ...] = ()
    refers_to_customers: bool = False
    keeps_features: bool = False
    aliases: dict[str, str] = field(default_factory=dict)

    def max_length(self, field_name: str) -> int | None:
        """The longest text the table accepts for ``field_name`` (None when unlimited)."""
        column = self.table.c.get(field_name)
        return getattr(column.type, "length", None) if column is not None else None


def _fields(*fields: CanonicalField) -> dict[str, CanonicalField]:
    return {f.name: f for f in fields}


CUSTOMERS = EntitySpec(
    name="customers",
    table=Customer.__table__,
    key=("customer_id",),
    fields=_fields(
        CanonicalField("customer_id", Kind.IDENTIFIER, required=True),
        CanonicalField("name", Kind.TEXT),
        CanonicalField("email", Kind.TEXT),
        CanonicalField("industry", Kind.TEXT),
        CanonicalField("country", Kind.TEXT),
        CanonicalField("segment", Kind.TEXT),
        CanonicalField("credit_limit", Kind.AMOUNT),
        CanonicalField("payment_terms_days", Kind.DAYS),
        CanonicalField("customer_since", Kind.DATE),
        CanonicalField("excluded_from_outreach", Kind.BOOLEAN),
    ),
    keeps_features=True,
)

INVOICES = EntitySpec(
    name="invoices",
    table=Invoice.__table__,
    key=("invoice_id",),
    fields=_fields(
        CanonicalField("invoice_id", Kind.IDENTIFIER, required=True),
        CanonicalField("customer_id", Kind.IDENTIFIER, required=True),
        CanonicalField("issue_date", Kind.DATE, required=True),
        CanonicalField("due_date", Kind.DATE),
        CanonicalField("payment_terms_days", Kind.DAYS, stored=False),
        CanonicalField("amount", Kind.AMOUNT, required=True),
        CanonicalField("currency", Kind.CURRENCY),
        CanonicalField("payment_method", Kind.TEXT),
        CanonicalField("channel", Kind.LOWERCASE),
        CanonicalField("settled_date", Kind.DATE),
    ),
    one_of_required=(("due_date", "payment_terms_days"),),
    refers_to_customers=True,
    keeps_features=True,
)

PAYMENTS = EntitySpec(
    name="payments",
    table=Payment.__table__,
    key=("payment_id",),
    fields=_fields(
        CanonicalField("payment_id", Kind.IDENTIFIER),
        CanonicalField("invoice_id", Kind.IDENTIFIER, required=True),
        CanonicalField("paid_date", Kind.DATE, required=True),
        CanonicalField("amount", Kind.AMOUNT, required=True),
    ),
    derived_key_prefix="pay-",
    derived_key_from=("invoice_id", "paid_date", "amount"),
)

DISPUTES = EntitySpec(
    name="disputes",
    table=Dispute.__table__,
    key=("dispute_id",),
    fields=_fields(
        CanonicalField("dispute_id", Kind.IDENTIFIER),
        CanonicalField("invoice_id", Kind.IDENTIFIER),
        CanonicalField("customer_id", Kind.IDENTIFIER, required=True),
        CanonicalField("opened_date", Kind.DATE, required=True),
        CanonicalField("resolved_date", Kind.DATE),
        CanonicalField("reason", Kind.TEXT),
    ),
    derived_key_prefix="dsp-",
    derived_key_from=("customer_id", "invoice_id", "opened_date"),
    refers_to_customers=True,
)

INTERACTIONS = EntitySpec(
    name="interactions",
    table=Interaction.__table__,
    key=("interaction_id",),
    fields=_fields(
        CanonicalField("interaction_id", Kind.IDENTIFIER),
        CanonicalField("customer_id", Kind.IDENTIFIER, required=True),
        CanonicalField("date", Kind.DATE, required=True),
        CanonicalField("channel", Kind.LOWERCASE),
        CanonicalField("topic", Kind.TEXT),
    ),
    derived_key_prefix="int-",
    derived_key_from=("customer_id", "date", "channel", "topic"),
    refers_to_customers=True,
)

ECONOMIC_INDICATORS = EntitySpec(
    name="economic_indicators",
    table=EconomicIndicator.__table__,
    key=("name", "key", "period"),
    fields=_fields(
        CanonicalField("period", Kind.PERIOD, required=True),
        CanonicalField("name", Kind.TEXT, required=True),
        CanonicalField("value", Kind.NUMBER, required=True),
        CanonicalField("key", Kind.TEXT),
    ),
    aliases={"industry": "key", "country": "key"},
)

# Dependency order: a file may only refer to entities imported before it.
ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (CUSTOMERS, INVOICES, PAYMENTS, DISPUTES, INTERACTIONS, ECONOMIC_INDICATORS)
}
