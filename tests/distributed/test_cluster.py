"""A local cluster starts beside anything else on the host."""

from __future__ import annotations

import contextlib
import socket
import warnings

from latepay.distributed.cluster import dask_client

DASK_DEFAULT_HTTP_PORT = 8787


def test_a_local_cluster_starts_when_dasks_default_port_is_taken():
    with contextlib.ExitStack() as stack:
        holder = stack.enter_context(socket.socket())
        # Taken by us unless something on the host (another cluster) already holds it.
        with contextlib.suppress(OSError):
            holder.bind(("0.0.0.0", DASK_DEFAULT_HTTP_PORT))
            holder.listen()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with dask_client("local:1") as client:
                assert client.submit(sum, [1, 2, 3]).result() == 6
                http_port = client.scheduler_info()["services"]["dashboard"]
    assert 0 < http_port != DASK_DEFAULT_HTTP_PORT
