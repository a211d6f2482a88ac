"""OpenMP's threads sleep between LightGBM's predictions rather than spin on another core."""

from __future__ import annotations

import os
import subprocess
import sys

# Scores one invoice at a time, as the service does at issuance, on two threads, and prints
# the process's CPU time over the wall time. A spinning OpenMP thread keeps a second core
# busy after each prediction (about twice the wall time here); a sleeping one costs nothing.
ONE_AT_A_TIME = """
import time
import latepay
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
"""


def _run(script: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    completed = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


def test_latepay_asks_openmp_to_wait_asleep_unless_told_otherwise() -> None:
    script = "import os, latepay; print(os.environ['OMP_WAIT_POLICY'])"
    assert _run(script) == "PASSIVE"
    assert _run(script, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_predicting_one_row_at_a_time_keeps_no_other_core_busy() -> None:
    # Sleeping between predictions is idle time for this process: a thread spinning through
    # it would put the CPU time near the wall time or above.
    assert float(_run(ONE_AT_A_TIME)) < 0.5
