"""A small generated ledger in SQLite with a gbm trained on it, and files of new invoices."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db import make_engine, upgrade_to_head
from latepay.features import Ledger, load_ledger
from latepay.ingest import import_mapping
from latepay.models.training import LateModel, make_model, training_data
from latepay.synthetic import generate_ledger


@dataclass
class Scoring:
    """A database holding a generated ledger, the ledger, and a model trained on it."""

    engine: Engine
    ledger: Ledger
    model: LateModel

    def predictions(self) -> pd.DataFrame:
        with self.engine.connect() as connection:
            return pd.read_sql(sa.text("SELECT * FROM predictions ORDER BY id"), connection)

    def forget_predictions(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM predictions"))


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scoring]:
    folder = tmp_path_factory.mktemp("scoring")
    generate_ledger(folder / "ledger", customers=20, seed=3)
    engine = make_engine(f"sqlite:///{folder / 'latepay.db'}")
    upgrade_to_head(engine)
    assert import_mapping(engine, folder / "ledger" / "mapping.yaml").ok
    ledger = load_ledger(engine)
    model = make_model("gbm", n_estimators=60).fit(training_data(ledger, cutoff=ledger.as_of))
    model.version_ = "gbm-test"
    yield Scoring(engine, ledger, model)
    engine.dispose()


@pytest.fixture
def scoring(world: Scoring) -> Iterator[Scoring]:
    """The shared world, with an empty ``predictions`` table before and after each test."""
    world.forget_predictions()
    yield world
    world.forget_predictions()


def new_invoices(ledger: Ledger, count: int = 12) -> pd.DataFrame:
    """``count`` invoices issued after the ledger ends, to the ledger's customers, canonical."""
    customers = sorted(ledger.invoices["customer_id"].unique())
    issue = ledger.as_of + pd.to_timedelta([day % 9 for day in range(count)], unit="D")
    return pd.DataFrame(
        {
            "invoice_id": [f"NEW{number:04d}" for number in range(count)],
            "customer_id": [customers[number % len(customers)] for number in range(count)],
            "issue_date": issue.strftime("%Y-%m-%d"),
            "due_date": (issue + pd.Timedelta(days=30)).strftime("%Y-%m-%d"),
            "amount": [f"{1000 + 250 * number:.2f}" for number in range(count)],
            "currency": "EUR",
            "payment_method": ["bank_transfer", "direct_debit", "cheque"] * (count // 3)
            + ["bank_transfer"] * (count % 3),
            "channel": ["paper", "electronic"] * (count // 2) + ["paper"] * (count % 2),
            "po_number_required": [str(number % 4 == 0) for number in range(count)],
        }
    )


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path
