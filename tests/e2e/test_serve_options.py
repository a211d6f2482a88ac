"""Options of ``latepay serve`` that only a real server process shows."""

from __future__ import annotations

import os
import socket
import time

from tests.e2e.conftest import running_server


def read_answer(connection: socket.socket) -> bytes:
    """One HTTP answer from ``connection``: its head, then as many bytes as it announces."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += receive(connection)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.partition(b":")[2])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += receive(connection)
    return head


def receive(connection: socket.socket) -> bytes:
    chunk = connection.recv(65536)
    assert chunk, "the server closed the connection"
    return chunk


def test_an_idle_connection_stays_open_for_the_keep_alive_time_then_closes(tmp_path) -> None:
    database_url = f"sqlite:///{tmp_path / 'latepay.db'}"
    env = {**os.environ, "LATEPAY_MODEL_DIR": str(tmp_path / "models")}
    with running_server(database_url, tmp_path, env, "--keep-alive", "2") as base_url:
        port = int(base_url.rpartition(":")[2])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            for _ in range(2):
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
                assert read_answer(connection).startswith(b"HTTP/1.1 ")
                time.sleep(1)  # idle for less than the keep-alive time: still open
            time.sleep(2)
            # Idle for longer: the server has closed it (the default, 5 s, would not have).
            connection.settimeout(0.5)
            assert connection.recv(1) == b""
