"""Persistence: tables, engine and session, migrations."""

from latepay.db.migrate import upgrade_to_head
from latepay.db.session import make_engine, session_factory

__all__ = ["make_engine", "session_factory", "upgrade_to_head"]
