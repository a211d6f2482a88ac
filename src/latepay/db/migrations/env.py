"""Alembic environment: uses the engine handed over by latepay.db.migrate."""

from alembic import context

from latepay.db.tables import Base

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
