"""OpenMP's threads sleep between LightGBM's predictions rather than spin (here in a server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Runs `latepay serve` with uvicorn.run replaced: once the command has built the app (which
# loads LightGBM, and OpenMP with it), it scores one row at a time on two threads, with
# pauses, as the service does at issuance, and prints the process's CPU time over the wall
# time. A spinning OpenMP thread keeps a second core busy through the pauses (the ratio then
# nears or passes 1); a sleeping one costs nothing.
SERVE_AND_PREDICT = """
import sys
import time

import uvicorn

def predict_instead_of_serving(*args, **kwargs):
    import lightgbm as lgb
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((2_000, 8))
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "num_threads": 2},
        lgb.Dataset(x, label=(x[:, 0] + x[:, 1] > 1).astype(int)),
        num_boost_round=50,
    )
    started, cpu = time.perf_counter(), time.process_time()
    for row in range(300):
        booster.predict(x[row : row + 1])
        booster.predict(x[row : row + 1], pred_contrib=True)
        time.sleep(0.002)  # the service's own work between two groups
    print((time.process_time() - cpu) / (time.perf_counter() - started))

uvicorn.run = predict_instead_of_serving
from latepay.cli import main

sys.argv = ["latepay", "--db", sys.argv[1], "serve"]
main()
"""


def _serve_and_predict(database: Path, **env: str) -> float:
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    completed = subprocess.run(
        [sys.executable, "-c", SERVE_AND_PREDICT, f"sqlite:///{database}"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(completed.stdout.strip().splitlines()[-1])


def test_the_server_keeps_no_other_core_busy_between_predictions(tmp_path: Path) -> None:
    assert _serve_and_predict(tmp_path / "latepay.db") < 0.5


def test_an_explicit_wait_policy_is_kept(tmp_path: Path) -> None:
    # Told to spin, OpenMP's thread keeps its core busy through the pauses.
    assert _serve_and_predict(tmp_path / "latepay.db", OMP_WAIT_POLICY="ACTIVE") > 0.5
