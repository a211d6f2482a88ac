"""ledger revisions: what a process holding the ledger in memory checks to see it is current

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 02:30:00.000000

Every change to what features read (a customer's invoices, disputes, contacts, promises to pay
or own attributes) raises that customer's ``ledger_revision``; a change to economic indicators,
or a deleted customer, raises the single ``ledger_revision`` row. Triggers do it, so no writer
(an import, the API, another process, a hand-written UPDATE) can forget to. Inserting rows
raises their customers' revisions by the number of rows; other changes by at least one.

SQLite rebuilds a table when a batch migration alters it, which drops its triggers: a later
migration that alters one of these tables in batch mode must create its triggers again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose rows carry their customer.
CUSTOMER_TABLES = ("invoices", "disputes", "interactions")
# Customer columns that features read.
CUSTOMER_FEATURE_COLUMNS = (
    "industry",
    "country",
    "segment",
    "credit_limit",
    "payment_terms_days",
    "customer_since",
    "extra",
)
GLOBAL_TABLES = ("economic_indicators",)
EVENTS = ("insert", "update", "delete")

_BUMP_CUSTOMERS = "UPDATE customers SET ledger_revision = ledger_revision + 1 WHERE customer_id"
_BUMP_GLOBAL = "UPDATE ledger_revision SET revision = revision + 1"


def upgrade() -> None:
    op.add_column(
        "customers",
        sa.Column("ledger_revision", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_table(
        "ledger_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_revision")),
    )
    op.execute("INSERT INTO ledger_revision (id, revision) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    # Row triggers: SQLite has no others. An update names its customer with "=", not
    # "IN (old, new)": importing a million payments updates a million invoices, and over a
    # million updates the list cost 1.9 s more.
    changes = {
        "insert": f"{_BUMP_CUSTOMERS} = NEW.customer_id",
        "update": f"{_BUMP_CUSTOMERS} = NEW.customer_id; {_BUMP_CUSTOMERS} = OLD.customer_id "
        "AND OLD.customer_id IS NOT NEW.customer_id",
        "delete": f"{_BUMP_CUSTOMERS} = OLD.customer_id",
    }
    for table in CUSTOMER_TABLES:
        for event, change in changes.items():
            op.execute(
                f"CREATE TRIGGER {table}_revision_{event} AFTER {event.upper()} ON {table} "
                f"BEGIN {change}; END"
            )
    promise_rows = {
        "insert": "NEW.invoice_id",
        "update": "OLD.invoice_id, NEW.invoice_id",
        "delete": "OLD.invoice_id",
    }
    for event, ids in promise_rows.items():
        op.execute(
            f"CREATE TRIGGER outcomes_revision_{event} AFTER {event.upper()} ON outcomes "
            f"BEGIN {_BUMP_CUSTOMERS} IN "
            f"(SELECT customer_id FROM invoices WHERE invoice_id IN ({ids})); END"
        )
    op.execute(
        "CREATE TRIGGER customers_revision_update AFTER UPDATE OF "
        f"{', '.join(CUSTOMER_FEATURE_COLUMNS)} ON customers "
        f"BEGIN {_BUMP_CUSTOMERS} = NEW.customer_id; END"
    )
    op.execute(
        f"CREATE TRIGGER customers_revision_delete AFTER DELETE ON customers BEGIN {_BUMP_GLOBAL}; END"
    )
    for table in GLOBAL_TABLES:
        for event in EVENTS:
            op.execute(
                f"CREATE TRIGGER {table}_revision_{event} AFTER {event.upper()} ON {table} "
                f"BEGIN {_BUMP_GLOBAL}; END"
            )


def _postgresql_triggers() -> None:
    # Statement triggers over transition tables: one UPDATE per statement (a COPY of a million
    # rows included), not one per row. An insert raises each customer's revision by its rows,
    # as SQLite's row triggers do, so a writer can tell its own rows from anyone else's.
    rows = {
        "insert": "SELECT {0} FROM new_rows",
        "update": "SELECT {0} FROM new_rows UNION SELECT {0} FROM old_rows",
        "delete": "SELECT {0} FROM old_rows",
    }
    customer_changes = {
        "insert": "UPDATE customers SET ledger_revision = ledger_revision + inserted.rows "
        "FROM (SELECT customer_id, count(*) AS rows FROM new_rows GROUP BY customer_id) "
        "AS inserted WHERE customers.customer_id = inserted.customer_id",
        "update": f"{_BUMP_CUSTOMERS} IN ({rows['update'].format('customer_id')})",
        "delete": f"{_BUMP_CUSTOMERS} IN ({rows['delete'].format('customer_id')})",
    }
    for event in EVENTS:
        _function(f"latepay_revise_customers_{event}", customer_changes[event])
        _function(
            f"latepay_revise_outcomes_{event}",
            f"{_BUMP_CUSTOMERS} IN (SELECT customer_id FROM invoices "
            f"WHERE invoice_id IN ({rows[event].format('invoice_id')}))",
        )
        for table in CUSTOMER_TABLES:
            _statement_trigger(table, event, f"latepay_revise_customers_{event}")
        _statement_trigger("outcomes", event, f"latepay_revise_outcomes_{event}")
    new = ", ".join(f"NEW.{c}" for c in CUSTOMER_FEATURE_COLUMNS).replace(
        "NEW.extra", "NEW.extra::text"
    )
    old = ", ".join(f"OLD.{c}" for c in CUSTOMER_FEATURE_COLUMNS).replace(
        "OLD.extra", "OLD.extra::text"
    )
    op.execute(
        "CREATE FUNCTION latepay_revise_customer_row() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF ({new}) IS DISTINCT FROM ({old}) THEN "
        "NEW.ledger_revision := NEW.ledger_revision + 1; END IF; RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER customers_revision_update BEFORE UPDATE ON customers "
        "FOR EACH ROW EXECUTE FUNCTION latepay_revise_customer_row()"
    )
    _function("latepay_revise_ledger", _BUMP_GLOBAL)
    op.execute(
        "CREATE TRIGGER customers_revision_delete AFTER DELETE ON customers "
        "FOR EACH STATEMENT EXECUTE FUNCTION latepay_revise_ledger()"
    )
    for table in GLOBAL_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_revision AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION latepay_revise_ledger()"
        )


def _function(name: str, statement: str) -> None:
    op.execute(
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {statement}; RETURN NULL; END $$"
    )


def _statement_trigger(table: str, event: str, function: str) -> None:
    transition = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
    }[event]
    op.execute(
        f"CREATE TRIGGER {table}_revision_{event} AFTER {event.upper()} ON {table} "
        f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Dropping a function drops the triggers that call it.
        functions = [
            *(
                f"latepay_revise_{kind}_{event}"
                for kind in ("customers", "outcomes")
                for event in EVENTS
            ),
            "latepay_revise_customer_row",
            "latepay_revise_ledger",
        ]
        for function in functions:
            op.execute(f"DROP FUNCTION {function}() CASCADE")
    else:
        triggers = op.get_bind().exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_revision%'"
        )
        for (trigger,) in triggers.all():
            op.execute(f"DROP TRIGGER {trigger}")
    op.drop_table("ledger_revision")
    # Not a batch operation: on SQLite that copies the customers table, which the foreign keys
    # of invoices forbid once there are any (SQLite drops a column itself since 3.35).
    op.execute("ALTER TABLE customers DROP COLUMN ledger_revision")
