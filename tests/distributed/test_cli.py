"""The real command line with ``--dask local``: import, train, backtest, score."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tests.e2e.test_cli import run, run_json

from latepay.synthetic import generate_ledger

pytestmark = pytest.mark.slow


# The 50k-invoice ledger of the other tests checks the numbers; the commands need fewer.
CLI_CUSTOMERS = 150


def test_dask_commands_end_to_end(tmp_path):
    files = tmp_path / "files"
    generate_ledger(files, customers=CLI_CUSTOMERS, seed=7, file_format="parquet")
    mapping = str(files / "mapping.yaml")
    db = f"sqlite:///{tmp_path / 'latepay.db'}"
    dask = ("--dask", "local", "--data", str(tmp_path / "dataset"))

    report = run_json("import", mapping, *dask, cwd=tmp_path, db=db)
    assert report["ok"]
    assert (tmp_path / "dataset" / "dataset.json").is_file()

    trained = run_json("train", *dask, cwd=tmp_path, db=db)
    assert trained["trained_on"] == "dask" and trained["promoted"]
    assert trained["holdout"]["roc_auc"] > 0.7
    metadata = json.loads((tmp_path / "models" / trained["version"] / "metadata.json").read_text())
    assert metadata["trained_on"] == "dask"
    assert metadata["dask"]["workers"] == 2
    assert metadata["training_rows"] == trained["training_rows"]

    backtest = run_json("backtest", *dask, "--output", "bt", cwd=tmp_path, db=db)
    predictions = pd.read_parquet(tmp_path / "bt")
    assert len(predictions) == backtest["scored"] > backtest["with_known_outcome"] > 1000
    assert predictions["invoice_id"].is_unique

    scored = run_json("score", "--open", *dask, "--output", "open", cwd=tmp_path, db=db)
    scores = pd.read_parquet(tmp_path / "open")
    assert len(scores) == scored["scored"] == sum(scored["risk_tiers"].values()) > 100
    assert set(scores["model_version"]) == {trained["version"]}
    assert scores["reasons"].map(lambda text: len(json.loads(text))).eq(3).all()

    # A file of new invoices: each lands in its customer's bucket and is scored there.
    new = pd.read_parquet(files / "invoices.parquet").head(500)
    new = new[new["amount"] > 0].assign(invoice_id=lambda f: "NEW-" + f["invoice_id"])
    new.to_parquet(tmp_path / "new.parquet", index=False)
    scored_file = run_json(
        "score",
        "new.parquet",
        *dask,
        "--output",
        "new-scores",
        "--reasons",
        "0",
        cwd=tmp_path,
        db=db,
    )
    assert scored_file["scored"] == len(new)
    assert set(pd.read_parquet(tmp_path / "new-scores")["invoice_id"]) == set(new["invoice_id"])

    # The model trained on Dask serves the single-machine path too.
    run("import", mapping, cwd=tmp_path, db=db)
    one_machine = run_json(
        "score", "new.parquet", "--output", "new.csv", "--reasons", "0", cwd=tmp_path, db=db
    )
    assert one_machine["model_version"] == trained["version"]
    expected = pd.read_csv(tmp_path / "new.csv").set_index("invoice_id")["p_late"]
    got = pd.read_parquet(tmp_path / "new-scores").set_index("invoice_id")["p_late"]
    assert (got.loc[expected.index] - expected).abs().max() < 1e-9


def test_data_without_dask_is_one_clear_error(tmp_path):
    result = run("train", "--data", str(tmp_path), cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "add --dask" in result.stderr
    assert "Traceback" not in result.stderr
