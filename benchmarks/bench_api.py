"""Scoring service target: ``POST /v1/invoices`` (one invoice) at 50 concurrent clients.

    python benchmarks/bench_api.py [--seconds 60] [--clients 50] [--database sqlite|postgresql]
                                   [--seconds-per-day 0] [--workers 1]
                                   [--paced-rates 100,200,300,400] [--paced-seconds 20]

A real ``latepay serve`` (uvicorn, one worker process unless ``--workers``, no access log)
over the bundled sample (200 customers, 21,412 invoices) and a gbm champion is loaded by
``wrk`` (Debian package ``wrk``; the load generator runs on the same 2-core machine and takes
CPU from the server).
Every request posts a new invoice for a customer with history, which the server stores,
scores as of its issue date with reasons, and records, in one transaction per group of
requests. Latency percentiles are wrk's, measured on the client side.

By default every invoice is issued on one day, so the server's own invoices never make its
ledger snapshot stale (the steady state within a day). ``--seconds-per-day N`` moves the issue
date on every N seconds: then each customer's first invoice of a day is read from the
database until a new snapshot is ready, as on a real first morning.

The target's run is closed-loop: each client posts again as soon as it has its answer, so the
server is always saturated and the latency is mostly queueing (the mean is clients / req/s).
The paced runs after it show the latency at lower loads: the same clients, each waiting a
random time after an answer (exponential, wrk's ``delay()``), so that together they offer the
given requests per second, each independently of the others (the rate reached is a little
lower, as each client also waits for its answers; waits are not counted in the latency).

Each run also reports the CPU the server's processes used (user and system, from psutil), in
cores and per request, and the part of it the scoring groups took in the thread that handled
them (``latepay_scoring_group_cpu_seconds``; the rest is the HTTP layer, the model library's
own threads and the server's other work). In the closed-loop run, the CPU per request sets
the ceiling the target is judged against: with C ms of CPU per request on N cores the server
answers at most N / C requests a millisecond, and the clients' mean latency is at least their
number over that rate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
import psutil
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from latepay.api.keys import create_key
from latepay.config import Settings
from latepay.db import make_engine, upgrade_to_head
from latepay.db.tables import Prediction
from latepay.features import load_ledger
from latepay.ingest import import_mapping
from latepay.learning.train import train_and_register
from latepay.sample import sample_mapping_path

LATEPAY = str(Path(sys.executable).with_name("latepay"))
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WARM_UP_SECONDS = 5
# wrk's error counts: answers other than 2xx and 3xx, then socket errors by what failed.
ERROR_KINDS = ("non_2xx", "connect", "read", "write", "timeout")

# One new invoice per request, unique across wrk's threads; the summary is printed as JSON.
# Invoices are issued on the first of ISSUE_DATES, or, with SECONDS_PER_DAY > 0, on the one
# that many seconds of wall time after START_TIME have reached (the same day in every run).
WRK_SCRIPT = """
local counter = 0
local threads = 0
local issue_dates = {ISSUE_DATES}

local function issue_date()
  if SECONDS_PER_DAY == 0 then return issue_dates[1] end
  local day = math.floor((os.time() - START_TIME) / SECONDS_PER_DAY)
  return issue_dates[math.min(#issue_dates, day + 1)]
end

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

-- Paced: each client waits a random time after an answer (exponential, of mean THINK_MS),
-- so the clients post independently of one another, not in step.
if THINK_MS > 0 then
  function init(args) math.randomseed(thread_id * 7919 + os.time()) end
  function delay() return -math.log(1 - math.random()) * THINK_MS end
end

request = function()
  counter = counter + 1
  local customer = string.format("C%06d", (counter * 7919 + thread_id * 31) % 200 + 1)
  local body = string.format(
    '{"invoice_id":"%s-%d-%d","customer_id":"%s","issue_date":"%s",'
    .. '"payment_terms_days":30,"amount":%d,"currency":"EUR",'
    .. '"features":{"po_number_required":%d}}',
    "RUN_ID", thread_id, counter, customer, issue_date(), 100 + (counter * 37) % 9000,
    counter % 2)
  return wrk.format("POST", "/v1/invoices",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer API_KEY"}, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,'
    .. '"non_2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(folder: Path, database_url: str) -> tuple[str, str]:
    """Import the sample, train a champion, make a billing key; return (key, issue date)."""
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    import_mapping(engine, sample_mapping_path())
    ledger = load_ledger(engine)
    settings = Settings(database_url=database_url, model_dir=folder / "models")
    train_and_register(engine, ledger, settings, kind="gbm")
    key, _ = create_key(engine, name="benchmark", role="billing")
    engine.dispose()
    return key, f"{ledger.as_of:%Y-%m-%d}"


def run_wrk(url: str, script: Path, *, clients: int, seconds: int) -> dict:
    threads = min(2, clients)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"WRK_JSON (\{.*\})", out)
    if found is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    return json.loads(found.group(1))


def server_counts(base_url: str, key: str) -> dict[str, float]:
    """The server's scoring-group counters: requests and groups, and groups by the source of
    their features (the ledger snapshot, or the database)."""
    text = httpx.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {key}"}).text

    def value(pattern: str) -> float:
        found = re.search(pattern + r" (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    return {
        "requests": value(r"^latepay_scoring_group_size_sum"),
        "groups": value(r"^latepay_scoring_group_size_count"),
        "scoring_cpu": value(r"^latepay_scoring_group_cpu_seconds_total"),
        **{
            source: value(rf'^latepay_scoring_group_features_total\{{source="{source}"\}}')
            for source in ("snapshot", "database")
        },
    }


def server_cpu_seconds(server: psutil.Process) -> float:
    """CPU time (user and system) the server and its worker processes have used so far."""
    total = 0.0
    for process in (server, *server.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--seconds-per-day",
        type=int,
        default=0,
        help="move the issue date on by a day every this many seconds, so each customer's "
        "first invoice of a day follows its invoices of earlier days (0: one day throughout)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (latepay serve --workers); /metrics counts the groups of all",
    )
    parser.add_argument(
        "--paced-rates",
        type=lambda text: [int(rate) for rate in text.split(",") if rate],
        default=[100, 200, 300, 400],
        help="requests per second the clients offer together in the paced runs, comma "
        "separated (empty: no paced runs)",
    )
    parser.add_argument("--paced-seconds", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 1
    console = Console(width=200)
    with tempfile.TemporaryDirectory(prefix="latepay-bench-api-") as tmp:
        folder = Path(tmp)
        database_url = f"sqlite:///{folder / 'latepay.db'}"
        if args.database == "postgresql":
            schema = f"bench_api_{os.getpid()}"
            admin = make_engine(POSTGRES_URL)
            with admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            database_url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        console.print(f"Preparing the sample and a champion ({args.database}) ...")
        key, issue_date = prepare(folder, database_url)

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "LATEPAY_MODEL_DIR": str(folder / "models")}
        server = subprocess.Popen(
            [
                *(LATEPAY, "--db", database_url, "serve", "--port", str(port)),
                *("--no-access-log", "--workers", str(args.workers)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "server.log").open("w"),
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            server_process = psutil.Process(server.pid)
            days = pd.date_range(issue_date, periods=1000, freq="D")
            issue_dates = ", ".join(f'"{day:%Y-%m-%d}"' for day in days)
            start_time = int(time.time())
            rows = []
            runs = [
                ("warm-up", args.clients, WARM_UP_SECONDS, 0),
                ("1 client", 1, 15, 0),
                (f"{args.clients} clients", args.clients, args.seconds, 0),
                *(
                    (
                        f"{args.clients} clients, paced at {rate} req/s",
                        args.clients,
                        args.paced_seconds,
                        round(1000 * args.clients / rate),
                    )
                    for rate in args.paced_rates
                ),
            ]
            for name, clients, seconds, think_ms in runs:
                script = folder / f"{re.sub(r'[^a-z0-9]+', '_', name)}.lua"
                script.write_text(
                    WRK_SCRIPT.replace("ISSUE_DATES", issue_dates)
                    .replace("START_TIME", str(start_time))
                    .replace("SECONDS_PER_DAY", str(args.seconds_per_day))
                    .replace("API_KEY", key)
                    .replace("THINK_MS", str(think_ms))
                    .replace("RUN_ID", f"B{len(rows)}")
                )
                before = server_counts(base_url, key)
                cpu_before = server_cpu_seconds(server_process)
                result = run_wrk(base_url, script, clients=clients, seconds=seconds)
                result["server_cpu"] = server_cpu_seconds(server_process) - cpu_before
                after = server_counts(base_url, key)
                done = {name: after[name] - before[name] for name in after}
                result["mean_group"] = done["requests"] / done["groups"] if done["groups"] else 0
                result["scoring_cpu"] = done["scoring_cpu"]
                sourced = done["snapshot"] + done["database"]
                result["from_snapshot"] = done["snapshot"] / sourced if sourced else 0
                result.update(name=name, clients=clients, seconds=seconds)
                rows.append(result)
            engine = make_engine(database_url)
            with engine.connect() as connection:
                recorded = connection.scalar(sa.select(sa.func.count()).select_from(Prediction))
            engine.dispose()
        finally:
            server.terminate()
            server.wait(timeout=30)
        if args.database == "postgresql":
            with admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

    table = Table(
        title=f"POST /v1/invoices, one invoice per request ({args.database}, "
        f"{args.workers} server process{'es' if args.workers > 1 else ''})"
    )
    for column in (
        "run",
        "clients",
        "seconds",
        "requests",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "mean group",
        "from snapshot",
        "server cores",
        "CPU ms/req",
        "scoring CPU ms/req",
    ):
        table.add_column(column, justify="right")
    for r in rows:
        # By kind: a socket error ("read") is not an answer the server got wrong.
        kinds = {kind: r[kind] for kind in ERROR_KINDS if r[kind]}
        errors = " ".join(f"{n} {kind}" for kind, n in kinds.items()) or "0"
        table.add_row(
            r["name"],
            str(r["clients"]),
            str(r["seconds"]),
            f"{r['requests']:,}",
            f"{r['requests'] / (r['duration_us'] / 1e6):,.0f}",
            *(f"{r[p] / 1000:.1f}" for p in ("p50", "p90", "p99", "max")),
            errors,
            f"{r['mean_group']:.1f}",
            f"{r['from_snapshot']:.0%}",
            f"{r['server_cpu'] / (r['duration_us'] / 1e6):.2f}",
            f"{1000 * r['server_cpu'] / r['requests']:.2f}" if r["requests"] else "-",
            f"{1000 * r['scoring_cpu'] / r['requests']:.2f}" if r["requests"] else "-",
        )
    console.print(table)
    posted = sum(r["requests"] for r in rows)
    console.print(f"Predictions recorded: {recorded:,} (wrk counted {posted:,} completed requests)")
    console.print("Target: p99 <= 30 ms and zero errors at 50 clients.")
    saturated = next(r for r in rows if r["name"] == f"{args.clients} clients")
    if saturated["requests"]:
        cpu_ms = 1000 * saturated["server_cpu"] / saturated["requests"]
        cores = os.cpu_count() or 1
        ceiling = 1000 * cores / cpu_ms
        console.print(
            f"At {cpu_ms:.2f} ms of server CPU per request, {cores} cores serve at most "
            f"{ceiling:,.0f} req/s, so {args.clients} closed-loop clients wait at least "
            f"{1000 * args.clients / ceiling:.1f} ms on average (Little's law); a p99 of 30 ms "
            f"needs at most {1000 * cores * 0.030 / args.clients:.2f} ms per request."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
