"""Shared fixtures: a migrated database on SQLite, and on PostgreSQL where one is reachable.

PostgreSQL tests get a schema of their own, dropped afterwards, so runs never see each other's
rows. The server is taken from LATEPAY_TEST_POSTGRES_URL (default: the local trust-auth server).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db import make_engine, upgrade_to_head

POSTGRES_URL = os.environ.get(
    "LATEPAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _postgres_reachable() -> bool:
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError:
        return False
    return True


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema of its own, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.engine.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def require_postgres() -> None:
    """Skip where no PostgreSQL answers; in CI its absence is a failure."""
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but {POSTGRES_URL} did not answer")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return _postgres_reachable()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'latepay.db'}"


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema; skipped where no server answers."""
    if not postgres_available:
        require_postgres()
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each database test runs twice: on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated, empty database of each kind."""
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated, empty SQLite database, for tests where the back end does not matter."""
    engine = make_engine(sqlite_url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()
