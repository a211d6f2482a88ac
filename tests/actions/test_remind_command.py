"""``latepay remind`` run as a user would, against a SQLite file and the loopback SMTP server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.actions.conftest import AS_OF, add_customer, add_invoice
from tests.e2e.test_cli import LATEPAY

from latepay.db import make_engine, upgrade_to_head


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'latepay.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    add_customer(engine, "C1")
    add_invoice(engine, "INV1", "C1", due=AS_OF)
    engine.dispose()
    return url


def remind(*args: str, db: str, port: int, cwd: Path, policy: Path | None = None):
    env = {
        **os.environ,
        "LATEPAY_SMTP_HOST": "127.0.0.1",
        "LATEPAY_SMTP_PORT": str(port),
        "COLUMNS": "200",
    }
    if policy:
        env["LATEPAY_REMINDER_POLICY"] = str(policy)
    command = [LATEPAY, "--db", db, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_remind_dry_run_then_send_then_nothing(database: str, smtp_server, tmp_path: Path) -> None:
    inbox, port = smtp_server
    day = f"{AS_OF:%Y-%m-%d}"
    dry = remind(
        "--json", "remind", "--as-of", day, "--dry-run", db=database, port=port, cwd=tmp_path
    )
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["counts"] == {"would_send": 1}
    assert inbox.messages == []

    sent = remind("remind", "--as-of", day, db=database, port=port, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert "C1" in sent.stdout
    assert "INV1" in sent.stdout
    assert "1 sent" in sent.stdout
    assert "Holdout: 0 invoices kept as control" in sent.stdout
    again = remind("--json", "remind", "--as-of", day, db=database, port=port, cwd=tmp_path)
    assert json.loads(again.stdout)["counts"] == {}
    assert len(inbox.messages) == 1
    # INV1 reached its proactive step treated; due on AS_OF, it has not matured on AS_OF.
    report = remind(
        "--json", "holdout-report", "--as-of", day, db=database, port=port, cwd=tmp_path
    )
    assert report.returncode == 0, report.stderr
    arms = json.loads(report.stdout)
    assert (arms["treated"]["eligible"], arms["treated"]["matured"]) == (1, 0)
    assert arms["control"]["eligible"] == 0
    assert arms["treated"]["on_time_rate"] is None


def test_a_bad_policy_is_one_line(database: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("segments: {reliable: {steps: []}, urgent: {steps: []}}\n")
    result = remind("remind", db=database, port=1, cwd=tmp_path, policy=policy)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "segments.urgent" in result.stderr
    assert "Traceback" not in result.stderr
