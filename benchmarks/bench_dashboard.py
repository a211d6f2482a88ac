"""Dashboard page load times on the ~100k-invoice generated ledger.

    python benchmarks/bench_dashboard.py [--customers 1000] [--runs 5] [--fresh]

Prepares, or reuses from ``benchmarks/results/cache/``, a SQLite database holding a generated
ledger of ``--customers`` customers (about 100 invoices each over 36 months), imported with
``latepay import``, a gbm champion from ``latepay train`` and every open invoice scored with
``latepay score --open``. Then starts a real ``latepay serve``, signs in with a viewer key and
times each page over HTTP: one warm-up load, then ``--runs`` loads (median and worst), with the
page's size. The model page is timed once its health (computed in the background after
start-up) is there. The target is every page under 1 s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
CACHE = HERE / "results" / "cache"
LATEPAY = shutil.which("latepay") or str(Path(sys.executable).with_name("latepay"))
PAGES = ("/", "/risk", "/worklist", "/forecast", "/model")
TARGET_SECONDS = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="Rebuild the cached database.")
    args = parser.parse_args()
    console = Console()
    folder = CACHE / f"dashboard-{args.customers}"
    if args.fresh and folder.exists():
        shutil.rmtree(folder)
    env = {**os.environ, "LATEPAY_MODEL_DIR": str(folder / "models")}
    database = f"sqlite:///{folder / 'latepay.db'}"
    if not (folder / "ready").exists():
        _prepare(folder, args.customers, database, env, console)
    key = _run([LATEPAY, "--db", database, "keys", "create", "--role", "viewer",
                "--name", "benchmark"], env).stdout  # fmt: skip
    key = re.search(r"(lp_\S+)", key).group(1)
    invoices = _run([LATEPAY, "--db", database, "--json", "summary"], env).stdout
    with _server(database, folder, env) as base_url:
        login = httpx.post(f"{base_url}/login", data={"key": key})
        cookies = {"latepay_session": _cookie(login)}
        top = httpx.get(f"{base_url}/worklist", cookies=cookies, timeout=120).text
        customer = re.search(r'href="/customers/([^"]+)"', top).group(1)
        health_seconds = _wait_for_model_health(base_url, cookies)
        table = Table(title=f"Dashboard pages, {args.customers:,} customers ({_count(invoices)})")
        for column in ("page", "median s", "worst s", "KB", "target"):
            table.add_column(column, justify="left" if column == "page" else "right")
        for path in (*PAGES, f"/customers/{customer}"):
            httpx.get(f"{base_url}{path}", cookies=cookies, timeout=120).raise_for_status()
            seconds, size = [], 0
            for _ in range(args.runs):
                start = time.perf_counter()
                response = httpx.get(f"{base_url}{path}", cookies=cookies, timeout=120)
                seconds.append(time.perf_counter() - start)
                response.raise_for_status()
                size = len(response.content)
            median = statistics.median(seconds)
            table.add_row(
                path,
                f"{median:.3f}",
                f"{max(seconds):.3f}",
                f"{size / 1024:,.0f}",
                "met" if median < TARGET_SECONDS else "MISSED",
            )
    console.print(table)
    console.print(
        f"Model health (live performance and drift) was computed in the background in "
        f"{health_seconds:.1f} s after start-up; /model is timed once it is there."
    )
    return 0


def _wait_for_model_health(base_url: str, cookies: dict) -> float:
    """Seconds until the model page shows its health instead of saying it is pending."""
    start = time.perf_counter()
    deadline = time.monotonic() + 600
    while "health-pending" in httpx.get(f"{base_url}/model", cookies=cookies, timeout=120).text:
        if time.monotonic() > deadline:
            raise SystemExit("model health did not arrive within 10 minutes")
        time.sleep(1)
    return time.perf_counter() - start


def _prepare(folder: Path, customers: int, database: str, env: dict, console: Console) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    steps = [
        ["generate", "--out", str(folder / "ledger"), "--customers", str(customers)],
        ["init"],
        ["import", str(folder / "ledger" / "mapping.yaml")],
        ["train"],
        ["score", "--open", "--output", str(folder / "open.csv")],
    ]
    for step in steps:
        console.print(f"latepay {' '.join(step)}")
        _run([LATEPAY, "--db", database, *step], env)
    (folder / "ready").touch()


def _run(command: list[str], env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return result


def _count(summary: str) -> str:
    match = re.search(r'"invoices":\s*(\d+)', summary)
    return f"{int(match.group(1)):,} invoices" if match else "invoices"


def _cookie(response: httpx.Response) -> str:
    # The cookie is Secure: a client's cookie jar would not send it back over plain HTTP.
    return re.match(r"latepay_session=([^;]+)", response.headers["set-cookie"]).group(1)


class _server:
    """``latepay serve`` on a free port for the duration of a ``with`` block."""

    def __init__(self, database: str, folder: Path, env: dict) -> None:
        self.command = [LATEPAY, "--db", database, "serve", "--port", str(_free_port()),
                        "--no-access-log"]  # fmt: skip
        self.base_url = f"http://127.0.0.1:{self.command[-2]}"
        self.folder, self.env = folder, env

    def __enter__(self) -> str:
        self.log = (self.folder / "server.log").open("w")
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{self.base_url}/healthz", timeout=1)
                return self.base_url
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit("the server did not start; see server.log") from None
                time.sleep(0.3)

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
