"""A generated ledger imported into SQLite, copied fresh for each test that retrains."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from latepay.config import Settings
from latepay.db import make_engine, upgrade_to_head
from latepay.ingest import import_mapping
from latepay.synthetic import generate_ledger

#: Small models keep the tests quick; the comparison logic does not depend on their size.
SMALL_GBM = {"n_estimators": 60}


@dataclass
class Workspace:
    engine: Engine
    settings: Settings
    folder: Path


@pytest.fixture(scope="session")
def imported_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("learning")
    generate_ledger(folder / "ledger", customers=30, seed=11)
    database = folder / "latepay.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade_to_head(engine)
    assert import_mapping(engine, folder / "ledger" / "mapping.yaml").ok
    engine.dispose()
    return database


@pytest.fixture
def workspace(imported_database: Path, tmp_path: Path) -> Iterator[Workspace]:
    """Its own copy of the imported database and an empty model folder."""
    database = tmp_path / "latepay.db"
    shutil.copy(imported_database, database)
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    settings = Settings(database_url=url, model_dir=tmp_path / "models")
    yield Workspace(engine, settings, tmp_path)
    engine.dispose()
