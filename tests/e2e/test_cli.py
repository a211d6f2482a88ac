"""The real ``latepay`` command, run as a user would run it, against a real database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from latepay.sample import sample_mapping_path

LATEPAY = shutil.which("latepay") or str(Path(sys.executable).with_name("latepay"))


def run(*args: str, cwd: Path, db: str | None = None, check: bool = True):
    command = [LATEPAY, *(["--db", db] if db else []), *args]
    env = {**os.environ, "LATEPAY_MODEL_DIR": str(cwd / "models"), "COLUMNS": "200"}
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} failed ({result.returncode}):\n{result.stderr}")
    return result


def run_json(*args: str, cwd: Path, db: str | None = None) -> dict:
    return json.loads(run("--json", *args, cwd=cwd, db=db).stdout)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder with a SQLite database holding the bundled sample."""
    folder = tmp_path_factory.mktemp("cli")
    db = f"sqlite:///{folder / 'latepay.db'}"
    run("init", cwd=folder, db=db)
    first = run_json("import", str(sample_mapping_path()), cwd=folder, db=db)
    assert first["entities"]["invoices"]["inserted"] == 21_412
    return folder, db


def test_reimporting_the_same_files_changes_nothing(imported) -> None:
    folder, db = imported
    second = run_json("import", str(sample_mapping_path()), cwd=folder, db=db)
    for entity, counts in second["entities"].items():
        assert counts["inserted"] == 0, entity
        assert counts["updated"] == 0, entity
    assert second["entities"]["invoices"]["unchanged"] == 21_412


def test_summary_reports_what_was_imported(imported) -> None:
    folder, db = imported
    summary = run_json("summary", cwd=folder, db=db)
    assert summary["customers"] == 200
    assert summary["invoices"] == 21_412
    assert 0.25 < summary["late_rate"] < 0.40
    assert summary["first_issue_date"] == "2021-01-01"


def test_backtest_writes_every_invoice_from_the_cutoff(imported) -> None:
    folder, db = imported
    output = folder / "preds.csv"
    result = run_json(
        "backtest", "--cutoff", "2023-07-01", "--output", str(output), cwd=folder, db=db
    )
    predictions = pd.read_csv(output)
    invoices = pd.read_csv(sample_mapping_path().parent / "invoices.csv.gz")
    expected = invoices[(invoices["issue_date"] >= "2023-07-01") & (invoices["amount"] > 0)]
    assert list(predictions.columns) == [
        "invoice_id",
        "p_late",
        "p_on_time",
        "p_late_1_30",
        "p_late_31_plus",
        "expected_days_late",
        "risk_tier",
        "model_version",
    ]
    assert len(predictions) == result["scored"] == len(expected)
    assert set(predictions["invoice_id"]) == set(expected["invoice_id"])
    assert predictions["p_late"].between(0, 1).all()
    assert result["roc_auc"] > 0.7


@pytest.fixture(scope="module")
def trained(imported) -> dict:
    folder, db = imported
    return run_json("train", cwd=folder, db=db)


def test_train_registers_a_self_describing_champion(imported, trained) -> None:
    folder, _ = imported
    result = trained
    metadata = json.loads((folder / "models" / result["version"] / "metadata.json").read_text())
    assert metadata["kind"] == "gbm"
    assert len(metadata["data_hash"]) == 64
    assert "hist_late_ratio" in metadata["features"]
    assert metadata["libraries"]["lightgbm"]
    assert metadata["metrics"]["holdout"]["roc_auc"] > 0.7
    assert result["promoted"] is True


def test_score_records_every_open_invoice_with_the_champion(imported, trained) -> None:
    folder, db = imported
    output = folder / "scores.csv"
    result = run_json("score", "--open", "--output", str(output), cwd=folder, db=db)
    scores = pd.read_csv(output)
    assert len(scores) == result["scored"]
    assert (scores["model_version"] == trained["version"]).all()
    assert scores["inputs_hash"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert set(scores["risk_tier"]) <= {"low", "medium", "high", "critical"}
    engine = sa.create_engine(db)
    with engine.connect() as connection:
        recorded = connection.scalar(sa.text("SELECT count(*) FROM predictions"))
        unpaid = connection.scalar(
            sa.text(
                "SELECT count(*) FROM invoices WHERE settled_date IS NULL AND NOT is_credit_note"
            )
        )
    engine.dispose()
    # As of the ledger's newest date, the open invoices are exactly the unpaid ones.
    assert result["scored"] == unpaid > 0
    assert recorded == result["scored"]


def test_score_a_file_of_new_invoices_as_of_their_issue_dates(imported, trained) -> None:
    folder, db = imported
    sample = pd.read_csv(sample_mapping_path().parent / "invoices.csv.gz", dtype=str).tail(40)
    new = sample.assign(
        invoice_id="NEW-" + sample["invoice_id"],
        issue_date="2024-01-15",
        due_date="2024-02-14",
    )
    new.to_csv(folder / "new.csv", index=False)
    engine = sa.create_engine(db)
    count = sa.text("SELECT count(*) FROM predictions WHERE invoice_id LIKE 'NEW-%'")

    result = run_json("score", "new.csv", "--output", "new-scores.csv", cwd=folder, db=db)

    scores = pd.read_csv(folder / "new-scores.csv")
    positive = new[new["amount"].astype(float) > 0]
    assert result["scored"] == len(scores) == len(positive)
    assert set(scores["invoice_id"]) == set(positive["invoice_id"])
    assert (scores["model_version"] == trained["version"]).all()
    assert scores["reasons"].notna().any()
    with engine.connect() as connection:
        assert connection.scalar(count) == len(positive)
        as_of = connection.scalar(
            sa.text("SELECT DISTINCT date(as_of) FROM predictions WHERE invoice_id LIKE 'NEW-%'")
        )
        stored = connection.scalar(
            sa.text("SELECT count(*) FROM invoices WHERE invoice_id LIKE 'NEW-%'")
        )
    engine.dispose()
    assert as_of == "2024-01-15"
    assert stored == 0

    new.loc[new.index[2], "issue_date"] = "15/01/2024"
    new.to_csv(folder / "bad.csv", index=False)
    bad = run("score", "bad.csv", cwd=folder, db=db, check=False)
    assert bad.returncode == 1
    assert "bad.csv:4: column issue_date value '15/01/2024'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_generate_writes_a_ledger_that_imports(tmp_path: Path) -> None:
    run(
        "generate",
        "--customers",
        "20",
        "--seed",
        "3",
        "--out",
        str(tmp_path / "ledger"),
        cwd=tmp_path,
    )
    db = f"sqlite:///{tmp_path / 'gen.db'}"
    report = run_json("import", str(tmp_path / "ledger" / "mapping.yaml"), cwd=tmp_path, db=db)
    assert report["entities"]["customers"]["inserted"] == 20
    assert report["entities"]["invoices"]["inserted"] > 500


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("import", "no-such-mapping.yaml"), "no-such-mapping.yaml"),
        (("backtest", "--cutoff", "not-a-date"), "--cutoff"),
        (("train", "--model", "forest"), "--model must be gbm or seed"),
        (("--db", "nonsense://x", "summary"), "database URL"),
        (("score",), "a file of invoices (INPUT) or --open"),
        (("score", "new.csv", "--open"), "either a file of invoices (INPUT) or --open"),
    ],
)
def test_mistakes_get_one_clear_line_and_a_non_zero_exit(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run(*args, cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_training_an_empty_database_says_what_to_do(tmp_path: Path) -> None:
    result = run("train", cwd=tmp_path, db=f"sqlite:///{tmp_path / 'empty.db'}", check=False)
    assert result.returncode == 1
    assert "latepay import" in result.stderr


@pytest.mark.slow
def test_demo_runs_the_main_job_on_the_bundled_sample(tmp_path: Path) -> None:
    # The README's first command (`make demo`) runs exactly this.
    out = run_json("demo", "--workdir", "demo-output", cwd=tmp_path)
    folder = tmp_path / "demo-output"
    models = out["comparison"]["models"]
    assert set(models) == {"seed", "gbm"}
    assert models["gbm"]["roc_auc"] > 0.6
    assert out["champion"] and out["open_invoices_scored"] > 0
    scores = pd.read_csv(folder / "open-scores.csv")
    assert len(scores) == out["open_invoices_scored"]
    assert scores["p_late"].between(0, 1).all()
    report = (folder / "report.html").read_text()
    weekly = (folder / "weekly.html").read_text()
    assert "plotly" in report.lower() and "Overview" in weekly and "Forecast" in weekly
    assert not any(f'src="http{s}://' in weekly for s in ("", "s"))
