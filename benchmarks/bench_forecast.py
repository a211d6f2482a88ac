"""Cash-in forecast backtest: weekly MAPE of latepay's forecast against two naive plans.

    python benchmarks/bench_forecast.py [--customers 500] [--as-of-dates 4] [--weeks 13]

For several as-of dates on each ledger (a generated one and the IBM sample), a gbm is trained
only on the labels known before the date, scores the invoices open at the start of the date
as of that date (the one scoring path, ``score_invoices``), and the forecast of
``latepay.planning.forecast`` spreads their balances over the next weeks. Each plan is compared
with the cash that actually came in per week from those invoices (their payments, or their
whole balance on the settled date when the ledger has no payments file):

* latepay: the forecast's expected weekly cash-in;
* due date: everyone pays the balance on its due date (invoices already past due: on the
  as-of date);
* customer delay: every invoice is paid its customer's mean days late after its due date
  (mean over the customer's invoices settled before the date; every customer's mean for a
  customer without any), not before the as-of date.

MAPE is the mean of |plan - actual| / actual over as-of dates, currencies and weeks (weeks with
no actual cash are left out and counted). A plan of zero scores 100% in any week, so MAPE
favours plans that forecast too little where the actual cash is small and lumpy (the later
weeks, small currencies); WAPE (sum of |plan - actual| over sum of actual, every week) weighs
weeks by their cash instead. ``in P10-P90`` is the share of weeks with cash whose actual cash-in
fell inside latepay's band.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from latepay.config import Settings
from latepay.db import make_engine, upgrade_to_head
from latepay.features import load_ledger
from latepay.ingest import import_mapping
from latepay.learning.train import model_params_for
from latepay.models.training import make_model, training_data
from latepay.planning.delays import customer_delays
from latepay.planning.forecast import forecast_cash_in, open_items
from latepay.planning.receivables import load_receivables
from latepay.scoring import score_invoices
from latepay.synthetic import generate_ledger

REPO = Path(__file__).resolve().parents[1]
IBM_MAPPING = REPO / "examples" / "ibm-ar" / "mapping.yaml"
PLANS = ("latepay", "due date", "customer delay")
# The first as-of date leaves at least this share of the ledger's span to train on.
FIRST_AS_OF_SHARE = 0.5
SIMULATIONS = 300


@dataclass
class WeekResult:
    data: str
    as_of: pd.Timestamp
    currency: str
    week: int
    actual: float
    plans: dict[str, float]
    p10: float
    p90: float


def as_of_dates(ledger, count: int, weeks: int) -> list[pd.Timestamp]:
    """``count`` dates from half the ledger's span to ``weeks`` weeks before its end."""
    first = ledger.invoices["issue_date"].min()
    last = ledger.as_of - pd.Timedelta(weeks=weeks)
    start = first + (last - first) * FIRST_AS_OF_SHARE
    return [pd.Timestamp(d).normalize() for d in pd.date_range(start, last, periods=count)]


def backtest_ledger(name: str, mapping: Path, database: Path, options, console) -> list:
    engine = make_engine(f"sqlite:///{database}")
    upgrade_to_head(engine)
    report = import_mapping(engine, mapping)
    if not report.ok:
        raise SystemExit(f"import of {mapping} failed: {report.errors[:3]}")
    ledger = load_ledger(engine)
    invoices, payments = load_receivables(engine)
    settings = Settings()
    spec = settings.label_spec()
    results = []
    for as_of in as_of_dates(ledger, options.as_of_dates, options.weeks):
        started = time.perf_counter()
        data = training_data(ledger, cutoff=as_of, spec=spec)
        model = make_model("gbm", **model_params_for("gbm", settings)).fit(data)
        trained = time.perf_counter()
        items = open_items(invoices, payments, as_of.date())
        to_score = ledger.invoices[ledger.invoices["invoice_id"].isin(items["invoice_id"])]
        scored = score_invoices(
            model,
            ledger,
            to_score,
            moments=pd.Series(as_of, index=to_score.index),
            tier_cutoffs=settings.risk_tier_cutoffs,
            reasons=0,
        ).set_index("invoice_id")
        scoring_done = time.perf_counter()
        forecast = forecast_cash_in(
            invoices,
            payments,
            scored,
            as_of=as_of.date(),
            spec=spec,
            segment_cutoffs=settings.segment_cutoffs,
            weeks=options.weeks,
            simulations=SIMULATIONS,
        )
        forecast_done = time.perf_counter()
        actual = _weekly(_actual_cash(items, invoices, payments, as_of), as_of, options.weeks)
        due = _weekly(_due_date_plan(items, as_of), as_of, options.weeks)
        habit = _weekly(_customer_delay_plan(items, invoices, as_of, spec), as_of, options.weeks)
        for part in forecast.currencies:
            for week in part.total.weeks:
                key = (part.currency, week.week - 1)
                results.append(
                    WeekResult(
                        data=name,
                        as_of=as_of,
                        currency=part.currency,
                        week=week.week,
                        actual=actual.get(key, 0.0),
                        plans={
                            "latepay": week.expected,
                            "due date": due.get(key, 0.0),
                            "customer delay": habit.get(key, 0.0),
                        },
                        p10=week.p10,
                        p90=week.p90,
                    )
                )
        console.print(
            f"{name} as of {as_of:%Y-%m-%d}: {len(items):,} open invoices, "
            f"{forecast.unpredicted_invoices} unscored; training {trained - started:.1f} s, "
            f"scoring {scoring_done - trained:.1f} s, forecast {forecast_done - scoring_done:.2f} s"
        )
    engine.dispose()
    return results


def _actual_cash(items, invoices, payments, as_of) -> pd.DataFrame:
    """Cash received from ``items`` on or after ``as_of``: payments, else the settled date."""
    paid = payments[
        payments["invoice_id"].isin(items["invoice_id"]) & (payments["paid_date"] >= as_of)
    ]
    with_payments = set(payments["invoice_id"])
    settled = items[~items["invoice_id"].isin(with_payments) & items["settled_date"].notna()]
    currency = items.set_index("invoice_id")["currency"]
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "currency": paid["invoice_id"].map(currency).to_numpy(),
                    "day": paid["paid_date"].to_numpy(),
                    "amount": paid["amount"].to_numpy(),
                }
            ),
            pd.DataFrame(
                {
                    "currency": settled["currency"].to_numpy(),
                    "day": settled["settled_date"].to_numpy(),
                    "amount": settled["balance"].to_numpy(),
                }
            ),
        ]
    )


def _due_date_plan(items, as_of) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "currency": items["currency"],
            "day": items["due_date"].clip(lower=as_of),
            "amount": items["balance"],
        }
    )


def _customer_delay_plan(items, invoices, as_of, spec) -> pd.DataFrame:
    record = customer_delays(invoices, as_of.date(), spec)
    everyone = (record["mean_days_late"] * record["settled"]).sum() / max(
        record["settled"].sum(), 1
    )
    delay = items["customer_id"].map(record["mean_days_late"]).fillna(everyone)
    day = items["due_date"] + pd.to_timedelta(np.round(delay), unit="D")
    return pd.DataFrame(
        {"currency": items["currency"], "day": day.clip(lower=as_of), "amount": items["balance"]}
    )


def _weekly(cash: pd.DataFrame, as_of: pd.Timestamp, weeks: int) -> dict[tuple[str, int], float]:
    """Cash per (currency, week index) within the horizon."""
    week = (pd.to_datetime(cash["day"]) - as_of).dt.days // 7
    inside = (week >= 0) & (week < weeks)
    sums = cash[inside].groupby([cash.loc[inside, "currency"], week[inside]])["amount"].sum()
    return {(currency, int(w)): float(v) for (currency, w), v in sums.items()}


def summary_rows(results: list[WeekResult]) -> list[dict]:
    rows = []
    for data in dict.fromkeys(r.data for r in results):
        mine = [r for r in results if r.data == data and r.actual > 0]
        skipped = sum(1 for r in results if r.data == data and r.actual <= 0)
        covered = np.mean([r.p10 <= r.actual <= r.p90 for r in mine])
        for plan in PLANS:
            rows.append(
                {
                    "data": data,
                    "plan": plan,
                    "weeks": len(mine),
                    "no cash": skipped,
                    "MAPE %": _mape(mine, plan, first_week=1),
                    "weeks 1-4": _mape(mine, plan, first_week=1, last_week=4),
                    "weeks 5+": _mape(mine, plan, first_week=5),
                    "WAPE %": _wape([r for r in results if r.data == data], plan),
                    "in P10-P90": covered if plan == "latepay" else None,
                }
            )
    return rows


def _mape(
    results: list[WeekResult], plan: str, *, first_week: int, last_week: int | None = None
) -> float:
    """Mean absolute percentage error of ``plan`` over the weeks in the range."""
    errors = [
        abs(r.plans[plan] - r.actual) / r.actual
        for r in results
        if r.week >= first_week and (last_week is None or r.week <= last_week)
    ]
    return 100 * float(np.mean(errors))


def _wape(results: list[WeekResult], plan: str) -> float:
    """Sum of absolute weekly errors over the sum of actual cash, weeks without cash included."""
    error = sum(abs(r.plans[plan] - r.actual) for r in results)
    return 100 * error / sum(r.actual for r in results)


def _print(console: Console, rows: list[dict], title: str) -> None:
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column, justify="left" if column in ("data", "plan") else "right")
    for row in rows:
        table.add_row(*(_cell(value) for value in row.values()))
    console.print(table)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if value >= 1 else f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=500, help="Generated customers.")
    parser.add_argument("--as-of-dates", type=int, default=4)
    parser.add_argument("--weeks", type=int, default=13)
    options = parser.parse_args()
    console = Console(width=200)
    results = []
    with tempfile.TemporaryDirectory(prefix="latepay-bench-") as scratch:
        folder = Path(scratch) / "generated"
        generate_ledger(folder, customers=options.customers, seed=0)
        invoices = sum(1 for _ in (folder / "invoices.csv").open()) - 1
        results += backtest_ledger(
            f"generated {invoices:,}",
            folder / "mapping.yaml",
            Path(scratch) / "generated.db",
            options,
            console,
        )
        if IBM_MAPPING.exists():
            results += backtest_ledger(
                "IBM sample", IBM_MAPPING, Path(scratch) / "ibm.db", options, console
            )
    _print(
        console,
        summary_rows(results),
        f"Weekly cash-in MAPE over {options.weeks} weeks, {options.as_of_dates} as-of dates each",
    )


if __name__ == "__main__":
    main()
