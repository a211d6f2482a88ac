"""A real ``latepay serve`` process on a free loopback port, over a trained database.

The database holds the bundled sample and a gbm champion; one server runs per back end
(SQLite file, PostgreSQL schema) for the whole module, and API keys of every role exist.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from tests.conftest import postgres_schema, require_postgres
from tests.e2e.test_cli import LATEPAY

from latepay.api.keys import create_key
from latepay.config import Settings
from latepay.db import make_engine, upgrade_to_head
from latepay.features import load_ledger
from latepay.ingest import import_mapping
from latepay.learning.train import train_and_register
from latepay.sample import sample_mapping_path

ROLES = ("admin", "billing", "collector", "viewer")
START_TIMEOUT_SECONDS = 60


@dataclass
class Served:
    """A running API: its address, a key per role, its database and model folder."""

    base_url: str
    keys: dict[str, str]
    database_url: str
    folder: Path
    engine: Engine
    env: dict[str, str]
    log: Path

    def client(self, role: str | None = "admin", **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)

    def latepay(self, *args: str) -> subprocess.CompletedProcess:
        command = [LATEPAY, "--db", self.database_url, *args]
        result = subprocess.run(
            command, cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"{command} failed:\n{result.stderr}"
        return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def database_of(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'latepay.db'}"
        return
    require_postgres()
    with postgres_schema() as url:
        yield url


@contextlib.contextmanager
def running_server(
    database_url: str, folder: Path, env: dict[str, str], *options: str, log_name="server.log"
) -> Iterator[str]:
    """Start ``latepay serve`` (with ``options``) and wait until it answers; stop it
    afterwards."""
    port = free_port()
    log = folder / log_name
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                *(LATEPAY, "--db", database_url, "serve", "--port", str(port)),
                *("--no-access-log", *options),
            ],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert process.poll() is None, f"the server exited:\n{log.read_text()}"
            try:
                httpx.get(f"{base_url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"no answer in time:\n{log.read_text()}"
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp(f"api-{request.param}")
    with database_of(request.param, folder) as database_url:
        settings = Settings(database_url=database_url, model_dir=folder / "models")
        engine = make_engine(database_url)
        upgrade_to_head(engine)
        report = import_mapping(engine, sample_mapping_path())
        assert report.ok, report.errors
        train_and_register(engine, load_ledger(engine), settings, kind="gbm")
        env = {
            **os.environ,
            "LATEPAY_MODEL_DIR": str(folder / "models"),
            "LATEPAY_MODEL_REFRESH_SECONDS": "0.5",
        }
        keys = {role: create_key(engine, name=f"test {role}", role=role)[0] for role in ROLES}
        with running_server(database_url, folder, env) as base_url:
            yield Served(
                base_url=base_url,
                keys=keys,
                database_url=database_url,
                folder=folder,
                engine=engine,
                env=env,
                log=folder / "server.log",
            )
        engine.dispose()
