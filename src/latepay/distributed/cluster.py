"""Connecting to a Dask cluster: a scheduler's address, or ``local[:N]`` for one machine.

``local`` starts a :class:`distributed.LocalCluster` of two single-threaded worker processes
(``local:N`` for N workers), for tests and for one big machine; any other value is the
address of a running scheduler (``tcp://scheduler:8786``) whose workers see the same Parquet
folder.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from distributed import Client, LocalCluster
from latepay.errors import InputError

LOCAL = "local"
LOOPBACK = "127.0.0.1"
DEFAULT_LOCAL_WORKERS = 2


@contextmanager
def dask_client(address: str) -> Iterator[Client]:
    """A client of the cluster at ``address``, closed (with a local cluster) on exit.

    Parameters
    ----------
    address : str
        ``local``, ``local:N`` or a scheduler address such as ``tcp://10.0.0.5:8786``.
    """
    workers = local_workers(address)
    if workers is None:
        with Client(address) as client:
            yield client
        return
    # One thread per worker: LightGBM and the feature builders use the cores themselves. The
    # scheduler's HTTP server (its health and metrics routes) takes any free loopback port:
    # without one it asks for 8787, and a second cluster on the host finds it taken.
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=f"{LOOPBACK}:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_stdout_to_stderr)
        yield client


def _stdout_to_stderr() -> None:
    """In a local worker: write what it prints (LightGBM's network log) to stderr.

    Local workers inherit this process's stdout, which carries a command's result (--json).
    """
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


def local_workers(address: str) -> int | None:
    """Workers of a ``local[:N]`` address, or None for a scheduler address."""
    if address != LOCAL and not address.startswith(f"{LOCAL}:"):
        return None
    count = address.removeprefix(LOCAL).removeprefix(":") or str(DEFAULT_LOCAL_WORKERS)
    if not count.isdigit() or int(count) < 1:
        raise InputError(
            f"--dask must be 'local', 'local:N' (N workers) or a scheduler address like "
            f"tcp://host:8786, got {address!r}"
        )
    return int(count)
