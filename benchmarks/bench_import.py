"""Import speed and memory: a synthetic ledger into SQLite and PostgreSQL, then again.

    python benchmarks/bench_import.py [--invoices 1000000] [--postgres URL] [--no-postgres]
                                      [--ledger DIR]

Generates a ledger of about ``--invoices`` invoices (and as many payments) with
``latepay.synthetic.generate_ledger``, then, for each database, imports it into an empty
schema and imports it a second time. Each import runs in a fresh Python process that reports
its own wall time and peak resident memory, so one run's memory never hides in another's.
The re-import must write nothing. Limits: 60 s and 2 GiB per import.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from peak_memory import peak_rss_bytes
from rich.console import Console
from rich.table import Table

from latepay.db import make_engine, upgrade_to_head
from latepay.synthetic import generate_ledger

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
INVOICES_PER_CUSTOMER = 100  # what generate_ledger gives a typical customer over 36 months
TIME_LIMIT_SECONDS = 60.0
MEMORY_LIMIT_BYTES = 2 * 1024**3


def main() -> int:
    """Run the benchmark; return the process exit code (1 when a limit is broken)."""
    options = _parse_arguments()
    if options.child_import:
        return _child_import(*options.child_import)
    console = Console(width=200)
    with tempfile.TemporaryDirectory(prefix="latepay-bench-") as scratch:
        ledger = options.ledger or Path(scratch) / "ledger"
        if options.ledger is None:
            started = time.perf_counter()
            summary = generate_ledger(
                ledger, customers=max(1, options.invoices // INVOICES_PER_CUSTOMER), seed=0
            )
            console.print(
                f"ledger: {summary.invoices:,} invoices, {summary.payments:,} payments, "
                f"{summary.customers:,} customers ({time.perf_counter() - started:.0f} s)"
            )
        results = _runs("sqlite", f"sqlite:///{Path(scratch) / 'bench.db'}", ledger)
        if not options.no_postgres and _reachable(options.postgres):
            results += _postgres_runs(options.postgres, ledger)
        elif not options.no_postgres:
            console.print(f"[yellow]PostgreSQL at {options.postgres} did not answer: skipped[/]")
    console.print(_table(results))
    broken = [
        r
        for r in results
        if r["seconds"] > TIME_LIMIT_SECONDS or r["peak_bytes"] > MEMORY_LIMIT_BYTES
    ]
    return 1 if broken else 0


def _parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000, help="about this many")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL server URL")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--ledger", type=Path, help="import this generated ledger folder instead of a new one"
    )
    parser.add_argument("--child-import", nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args()


def _runs(backend: str, url: str, ledger: Path) -> list[dict]:
    engine = make_engine(url)
    upgrade_to_head(engine)  # not timed: the benchmark is about importing
    engine.dispose()
    first = _import_in_fresh_process(url, ledger / "mapping.yaml")
    again = _import_in_fresh_process(url, ledger / "mapping.yaml")
    if not again["nothing_changed"]:
        raise AssertionError(f"{backend}: the re-import wrote rows: {again['counts']}")
    return [
        {"backend": backend, "run": "import", **first},
        {"backend": backend, "run": "re-import", **again},
    ]


def _reachable(server_url: str) -> bool:
    engine = make_engine(server_url)
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def _postgres_runs(server_url: str, ledger: Path) -> list[dict]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = sa.engine.make_url(server_url).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        return _runs("postgresql", url.render_as_string(hide_password=False), ledger)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _import_in_fresh_process(url: str, mapping: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child-import", url, str(mapping)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"import failed:\n{completed.stderr}")
    return json.loads(completed.stdout.splitlines()[-1])


def _child_import(url: str, mapping: str) -> int:
    from latepay.ingest import import_mapping

    engine = make_engine(url)
    started = time.perf_counter()
    report = import_mapping(engine, Path(mapping))
    seconds = time.perf_counter() - started
    engine.dispose()
    # This process's own peak: the parent's RUSAGE_CHILDREN would give the largest of all its
    # children so far, not this run's.
    peak_bytes = peak_rss_bytes()
    counts = {
        name: {"inserted": c.inserted, "updated": c.updated, "unchanged": c.unchanged}
        for name, c in report.entities.items()
    }
    result = {
        "seconds": seconds,
        "peak_bytes": peak_bytes,
        "ok": report.ok,
        "nothing_changed": report.nothing_changed,
        "counts": counts,
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0 if report.ok else 1


def _table(results: list[dict]) -> Table:
    invoices = results[0]["counts"]["invoices"]["inserted"]
    table = Table(title=f"latepay import of {invoices:,} invoices")
    for column in ("database", "run", "seconds", "peak MiB", "rows written", "unchanged", "limits"):
        table.add_column(column, justify="left" if column in ("database", "run") else "right")
    for result in results:
        counts = result["counts"].values()
        within = (
            result["seconds"] <= TIME_LIMIT_SECONDS and result["peak_bytes"] <= MEMORY_LIMIT_BYTES
        )
        table.add_row(
            result["backend"],
            result["run"],
            f"{result['seconds']:.1f}",
            f"{result['peak_bytes'] / 1024**2:,.0f}",
            f"{sum(c['inserted'] + c['updated'] for c in counts):,}",
            f"{sum(c['unchanged'] for c in counts):,}",
            "ok" if within else "EXCEEDED",
        )
    return table


if __name__ == "__main__":
    sys.exit(main())
