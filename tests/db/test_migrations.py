import sqlalchemy as sa

from latepay.db import make_engine, upgrade_to_head
from latepay.db.tables import Base


def test_upgrade_creates_every_table_and_is_repeatable(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    upgrade_to_head(engine)  # a second run must be a no-op, not an error
    tables = set(sa.inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    engine.dispose()


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations and tables.py agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(database_url)
    upgrade_to_head(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    engine.dispose()


def test_the_ledger_revisions_come_off_and_back_on_a_database_with_data(
    database_url: str,
) -> None:
    from alembic import command
    from tests.features.test_ledger_load import store_ledger

    from latepay.db.migrate import alembic_config

    engine = make_engine(database_url)
    upgrade_to_head(engine)
    store_ledger(engine)
    command.downgrade(alembic_config(engine), "0003")
    assert "ledger_revision" not in {c["name"] for c in sa.inspect(engine).get_columns("customers")}
    upgrade_to_head(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE invoices SET amount = 1 WHERE invoice_id = 'I1'"))
        revision = connection.scalar(
            sa.text("SELECT ledger_revision FROM customers WHERE customer_id = 'C1'")
        )
    assert revision == 1
    engine.dispose()
