"""latepay: predict which invoices will be paid late, explain why, and act on it."""

import os

# OpenMP's threads (LightGBM's) sleep between parallel regions instead of spinning. Left to
# spin, a worker thread kept a second core busy for up to ~10 ms after every prediction: a
# single invoice scored at issuance cost twice its wall time in CPU, taken from the event
# loop and the other server processes, and training used a third more CPU for no gain. Set
# here, before any module loads OpenMP, which reads it once; an explicit setting is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
