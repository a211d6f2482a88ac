"""latepay: predict which invoices will be paid late, explain why, and act on it."""

import os

# OpenMP's threads (LightGBM's) sleep between parallel regions instead of spinning. Left to
# spin, a worker thread keeps another core busy after every parallel region: an invoice
# scored at issuance cost about 1.4 times its wall time in CPU, taken from the event loop and
# the other server processes; and two processes training at once (the test suite's two
# workers) slowed each other down several times over (`make demo`'s test: 120 s against
# 30 s). Training alone on an idle machine is ~8% faster spinning; not worth those. Set here,
# before any module loads OpenMP, which reads it once; an explicit setting is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
