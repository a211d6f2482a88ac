"""Generate a complete synthetic accounts-receivable ledger on disk."""

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from latepay.synthetic.chunk import simulate_chunk
from latepay.synthetic.economy import indicator_table, simulate_economy
from latepay.synthetic.layout import CSV_FLOAT_FORMATS, TABLE_SCHEMAS
from latepay.synthetic.mapping import write_mapping
from latepay.synthetic.output import FileFormat, TableWriter
from latepay.synthetic.tables import IdCounters, build_tables
from latepay.synthetic.timeline import MonthGrid
from latepay.synthetic.vocabulary import INDUSTRIES

logger = logging.getLogger(__name__)

# Fixed so that output depends on the seed only, never on the machine; about
# 500k invoices per block keeps memory well under a gigabyte.
CUSTOMERS_PER_CHUNK = 5_000

# Independent random streams derived from the seed.
_ECONOMY_STREAM = 0
_CUSTOMER_BLOCK_STREAM = 1
_REGIME_BLOCK_STREAM = 2

ProgressCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class LedgerSummary:
    """What ``generate_ledger`` wrote.

    Attributes
    ----------
    customers, invoices, payments, disputes, interactions, indicator_rows
        Row counts of the written tables (credit notes count as invoices).
    late_rate
        Share of invoices settled by ``as_of`` that were paid after their due date.
    first_issue_date, last_issue_date
        Issue dates of the earliest and latest invoice (None if there are none).
    as_of
        The generation's "today": the last day of the period. Nothing after it
        is recorded.
    files
        Path of every written file, keyed by table name, plus ``"mapping"``.
    """

    customers: int
    invoices: int
    payments: int
    disputes: int
    interactions: int
    indicator_rows: int
    late_rate: float
    first_issue_date: date | None
    last_issue_date: date | None
    as_of: date
    files: dict[str, Path]


def _random_stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _as_date(day: int) -> date:
    return np.datetime64(int(day), "D").item()


def generate_ledger(
    out_dir: Path,
    *,
    customers: int,
    seed: int = 0,
    start: date = date(2021, 1, 1),
    months: int = 36,
    file_format: FileFormat = "csv",
    regime_change: bool = False,
    progress: ProgressCallback | None = None,
) -> LedgerSummary:
    """Generate a synthetic B2B accounts-receivable ledger and its source mapping.

    Writes ``customers``, ``invoices``, ``payments``, ``disputes``,
    ``interactions``, ``economic_indicators`` and ``truth`` tables (``.csv`` or
    ``.parquet``) and ``mapping.yaml`` into ``out_dir``. Customers are simulated
    in fixed-size blocks, each with its own random stream derived from
    ``seed``, so memory stays bounded and the same seed always gives
    byte-identical files.

    Parameters
    ----------
    out_dir
        Directory to write into; created if missing, existing files overwritten.
    customers
        Number of customers; a mid-market customer gets about 100 invoices over
        36 months, so 10,000 customers give about a million invoices.
    seed
        Seed of every random draw.
    start
        First day of the period; must be the first day of a month.
    months
        Length of the period in months. The period ends on ``as_of``.
    file_format
        ``"csv"`` or ``"parquet"`` for the tables.
    regime_change
        Whether the downturn also changes how its industries pay (cash rationing, revoked
        direct-debit mandates, shaken reliability; see :mod:`latepay.synthetic.regime`).
        Off, the same seed gives the same files as before the option existed.
    progress
        Called as ``progress(stage, fraction_of_stage_done)`` with stages
        ``"economy"``, ``"customers"`` (once per block) and ``"mapping"``.

    Returns
    -------
    LedgerSummary
        Row counts, the settled late rate, the date range and the written files.

    Raises
    ------
    ValueError
        If ``customers`` or ``months`` is below 1, ``start`` is not the first
        of a month, or ``file_format`` is unknown.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if file_format not in ("csv", "parquet"):
        raise ValueError(f"file_format must be 'csv' or 'parquet', got {file_format!r}")
    grid = MonthGrid.from_start(start, months)
    report = progress or (lambda stage, fraction: None)
    started = time.perf_counter()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {table: out_dir / f"{table}.{file_format}" for table in TABLE_SCHEMAS}

    economy = simulate_economy(_random_stream(seed, _ECONOMY_STREAM), grid)
    indicators = indicator_table(economy, grid)
    periods = grid.period_labels()[list(economy.downturn_months)]
    logger.info(
        "downturn hits %s from %s to %s",
        ", ".join(INDUSTRIES[code] for code in economy.downturn_industries),
        periods[0] if len(periods) else "-",
        periods[-1] if len(periods) else "-",
    )
    report("economy", 1.0)

    counters = IdCounters()
    settled = settled_late = 0
    first_issue_day: int | None = None
    last_issue_day: int | None = None
    with ExitStack() as open_writers:
        writers = {}
        for table, schema in TABLE_SCHEMAS.items():
            writers[table] = TableWriter(
                files[table], schema, file_format, CSV_FLOAT_FORMATS[table]
            )
            open_writers.callback(writers[table].close)
        writers["economic_indicators"].write(indicators)

        for block, first_index in enumerate(range(0, customers, CUSTOMERS_PER_CHUNK)):
            count = min(CUSTOMERS_PER_CHUNK, customers - first_index)
            rng = _random_stream(seed, _CUSTOMER_BLOCK_STREAM, block)
            regime_rng = (
                _random_stream(seed, _REGIME_BLOCK_STREAM, block) if regime_change else None
            )
            chunk = simulate_chunk(
                rng, first_index + 1, count, grid, economy, regime_rng=regime_rng
            )
            tables = build_tables(chunk, counters, grid.as_of)
            for table, frame in tables.frames.items():
                writers[table].write(frame)
            counters = tables.counters_after(counters)

            settled += int(chunk.settlement.settled.sum())
            settled_late += int((chunk.settlement.settled & chunk.late).sum())
            if len(chunk.invoices):
                block_first, block_last = chunk.invoices.issue_day[[0, -1]]
                first_issue_day = (
                    block_first if first_issue_day is None else min(first_issue_day, block_first)
                )
                last_issue_day = (
                    block_last if last_issue_day is None else max(last_issue_day, block_last)
                )
            logger.debug(
                "customer block %d: %d customers, %d invoices", block, count, len(chunk.invoices)
            )
            report("customers", (first_index + count) / customers)

    files["mapping"] = write_mapping(out_dir, files)
    report("mapping", 1.0)

    summary = LedgerSummary(
        customers=customers,
        invoices=counters.invoices,
        payments=counters.payments,
        disputes=counters.disputes,
        interactions=counters.interactions,
        indicator_rows=len(indicators),
        late_rate=settled_late / settled if settled else float("nan"),
        first_issue_date=None if first_issue_day is None else _as_date(first_issue_day),
        last_issue_date=None if last_issue_day is None else _as_date(last_issue_day),
        as_of=_as_date(grid.as_of),
        files=files,
    )
    logger.info(
        "generated %d customers, %d invoices (late rate %.3f) in %s in %.1f s",
        summary.customers,
        summary.invoices,
        summary.late_rate,
        out_dir,
        time.perf_counter() - started,
    )
    return summary
