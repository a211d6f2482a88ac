"""Expected cash-in per week from the open invoices' predicted payment delays (issue 7, item 2).

**Open invoices.** The forecast as of day D covers the invoices open at the start of D (issued
before D, not settled before D, credit notes aside: the same invoices the worklist of D lists),
each for its outstanding balance (its amount less the partial payments received before D).
Week 1 is D to D + 6, week 2 the next seven days, and so on.

**Each invoice's payment day** is a distribution over its days late ``d`` (payment day minus
due date), built from its latest score made by D:

* the bucket probabilities (``on_time``, ``late_1_30``, ``late_31_plus`` by default) give how
  much probability falls in each bucket;
* within ``on_time``, days follow the ledger's own record of when on-time invoices were paid
  (pooled over customers, see :mod:`latepay.planning.delays`);
* within a bounded late bucket (1-30 days by default), days follow a geometric curve that
  starts the day after the grace days, cut to the bucket; before the cut its mean is the days
  late the model expects when late (``expected_days_late / p_late``, at least half a day past
  the first late day): a small expected delay puts the money early in the bucket, a long one
  spreads it out;
* within the last, open-ended bucket, days follow the ledger's Kaplan-Meier curve of days late
  beyond the bucket's start, so money far past due is paid as rarely as it was in the past, and
  some of it never.

The distribution is then conditioned on what is already known: the invoice was not paid before
D, so its days late are at least ``D - due date``. An invoice already past every day its
distribution allows (no history that late) pays from D on a geometric curve with its expected
delay.

**Invoices never scored** by D get bucket probabilities from their customer's settled invoices
(the shares in each bucket, and the mean days late of the late ones), or from every customer's
when the customer has none; the forecast counts them (``unpredicted``).

**Intervals.** The expected weekly inflow is exact: the sum of balance x probability of paying
that week. P10 / P50 / P90 come from :data:`SIMULATIONS` seeded simulations in which every
invoice pays in one week (or after the horizon) drawn from its distribution. A customer's
invoices share one random draw per simulation (a customer that pays late pays its invoices
late together); customers are independent. The bands therefore show timing uncertainty given
the scores, not the scores' own error or a shock hitting every customer at once.

**Currencies.** Amounts are never added across currencies (the ledger has no exchange rates):
every figure is given per currency; invoices without one are under ``XXX`` (ISO 4217: no
currency).

**Segments** are the customers' risk segments of :func:`latepay.actions.segments.customer_segments`
(``unknown`` for a customer with neither a score nor a settled invoice).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from latepay.actions.segments import SEGMENTS, customer_segments
from latepay.config import Settings
from latepay.errors import InputError
from latepay.features.labels import LabelSpec
from latepay.planning.delays import DelayHistory, customer_delays, observe_delays
from latepay.planning.receivables import NO_CURRENCY, load_receivables, outstanding_invoices
from latepay.planning.reserve import LATE_THRESHOLDS, Reserve, suggest_reserve
from latepay.scoring.records import latest_predictions

DEFAULT_WEEKS = 13
MAX_WEEKS = 104
SIMULATIONS = 1000
SEED = 0
UNKNOWN_SEGMENT = "unknown"
FORECAST_SEGMENTS = (*SEGMENTS, UNKNOWN_SEGMENT)
# The geometric curve's mean days beyond its first day is at least this: a model that expects
# exactly one day late still leaves some money for the days after.
MIN_GEOMETRIC_MEAN_DAYS = 0.5
# Below this, the money left after conditioning on "not paid yet" is taken to be none.
NEGLIGIBLE = 1e-12
# Invoice x simulation x week comparisons made at once while simulating.
SIMULATION_BLOCK = 20_000_000


@dataclass(frozen=True)
class WeekForecast:
    """Cash expected in one week (``start`` to ``end``, both included)."""

    week: int
    start: dt.date
    end: dt.date
    expected: float
    p10: float
    p50: float
    p90: float


@dataclass(frozen=True)
class CashIn:
    """The weekly cash-in of a set of open invoices; ``after_horizon`` is the expected amount
    paid after the last week (or never)."""

    open_invoices: int
    open_amount: float
    weeks: list[WeekForecast]
    after_horizon: float


@dataclass(frozen=True)
class CurrencyForecast:
    """The forecast of one currency's open invoices: in total and by segment, with the
    reserve; ``unpredicted_*`` count those never scored (forecast from customer history)."""

    currency: str
    total: CashIn
    segments: dict[str, CashIn]
    reserve: Reserve
    unpredicted_invoices: int
    unpredicted_amount: float


@dataclass(frozen=True)
class Forecast:
    """The forecast as of ``as_of``, one part per currency."""

    as_of: dt.date
    weeks: int
    simulations: int
    seed: int
    currencies: list[CurrencyForecast]

    @property
    def unpredicted_invoices(self) -> int:
        return sum(part.unpredicted_invoices for part in self.currencies)

    def to_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "weeks": self.weeks,
            "simulations": self.simulations,
            "seed": self.seed,
            "currency_handling": "every amount is per currency; currencies are never added "
            f"together (no exchange rates); {NO_CURRENCY} = no currency recorded",
            "unpredicted_invoices": self.unpredicted_invoices,
            "currencies": [
                {
                    "currency": part.currency,
                    "total": _cash_in_dict(part.total),
                    "segments": {k: _cash_in_dict(v) for k, v in part.segments.items()},
                    "reserve": part.reserve.to_dict(),
                    "unpredicted_invoices": part.unpredicted_invoices,
                    "unpredicted_amount": part.unpredicted_amount,
                }
                for part in self.currencies
            ],
        }


def _cash_in_dict(cash_in: CashIn) -> dict:
    return {**asdict(cash_in), "weeks": [asdict(week) for week in cash_in.weeks]}


# ------------------------------------------------------------------ the delay distribution
def survival(
    days: np.ndarray,
    buckets: np.ndarray,
    mean_days_when_late: np.ndarray,
    history: DelayHistory,
    spec: LabelSpec,
) -> np.ndarray:
    """P(days late > ``days``) of each invoice before anything is known about its payment.

    Parameters
    ----------
    days : array (n, k)
        Days late to evaluate, row ``i`` for invoice ``i``.
    buckets : array (n, len(spec.bucket_names))
        Bucket probabilities (rows sum to 1).
    mean_days_when_late : array (n,)
        Expected days late given late (the geometric curve's anchor).
    history : DelayHistory
        On-time days and the Kaplan-Meier tail.
    spec : LabelSpec
    """
    days = np.asarray(days, dtype=float)
    q = _geometric_ratio(mean_days_when_late, spec.grace_days)[:, None]
    result = buckets[:, [0]] * (1.0 - history.on_time_cdf(days))
    lower = spec.grace_days + 1
    for k, edge in enumerate(spec.bucket_edges, start=1):
        into = days - lower + 1  # days of the bucket already passed
        width = edge - lower + 1
        inside = (q ** np.clip(into, 0, width) - q**width) / (1.0 - q**width)
        result += buckets[:, [k]] * np.where(into <= 0, 1.0, np.where(into >= width, 0.0, inside))
        lower = edge + 1
    result += buckets[:, [-1]] * _tail_survival(days, lower, q, history)
    return result


def _geometric_ratio(mean_days_when_late: np.ndarray, grace_days: int) -> np.ndarray:
    """q of the geometric curve ``P(d > x) = q ** (x - grace)`` with the given mean."""
    beyond_first_day = np.maximum(
        np.nan_to_num(mean_days_when_late - grace_days - 1, nan=0.0), MIN_GEOMETRIC_MEAN_DAYS
    )
    return beyond_first_day / (1.0 + beyond_first_day)


def _tail_survival(days: np.ndarray, lower: int, q: np.ndarray, history: DelayHistory):
    """P(d > days | d >= lower) in the open-ended bucket: history's curve, else geometric."""
    reached = float(history.survival_at(np.array([lower - 1]))[0])
    into = np.maximum(days - lower + 1, 0)
    if reached <= NEGLIGIBLE:
        return q**into
    return np.where(days < lower, 1.0, history.survival_at(days.astype(np.int64)) / reached)


def conditional_survival(
    days: np.ndarray,
    first_day: np.ndarray,
    buckets: np.ndarray,
    mean_days_when_late: np.ndarray,
    history: DelayHistory,
    spec: LabelSpec,
) -> np.ndarray:
    """P(days late > ``days`` | days late >= ``first_day``): :func:`survival` given that each
    invoice was not paid before its ``first_day`` (days late of the forecast's first day)."""
    first_day = np.asarray(first_day, dtype=float)[:, None]
    start = survival(first_day - 1, buckets, mean_days_when_late, history, spec)
    clipped = np.maximum(np.asarray(days, dtype=float), first_day - 1)
    known = survival(clipped, buckets, mean_days_when_late, history, spec)
    with np.errstate(divide="ignore", invalid="ignore"):
        conditioned = np.minimum(known / start, 1.0)
    # Past every day its distribution allows: pays from first_day on, geometrically.
    q = _geometric_ratio(mean_days_when_late, spec.grace_days)[:, None]
    fallback = q ** (clipped - first_day + 1)
    return np.where(start > NEGLIGIBLE, conditioned, fallback)


def week_probabilities(
    items: pd.DataFrame, *, as_of: dt.date, weeks: int, history: DelayHistory, spec: LabelSpec
) -> np.ndarray:
    """Probability that each open invoice is paid in each week, and after the last.

    Returns
    -------
    array (n, weeks + 1)
        Column ``w`` < ``weeks`` is week ``w + 1`` of the forecast; the last column is after
        the horizon (or never). Rows sum to 1.
    """
    first_day = _first_day(items, as_of)
    ends = first_day[:, None] - 1 + 7 * np.arange(weeks + 1)[None, :]
    still_open = _conditional(items, ends, first_day, history, spec)
    return np.column_stack([still_open[:, :-1] - still_open[:, 1:], still_open[:, -1]])


def late_probabilities(
    items: pd.DataFrame, *, as_of: dt.date, history: DelayHistory, spec: LabelSpec
) -> np.ndarray:
    """P(paid more than each of :data:`LATE_THRESHOLDS` days past due, or never): (n, 2)."""
    first_day = _first_day(items, as_of)
    thresholds = np.tile(np.asarray(LATE_THRESHOLDS, dtype=float), (len(items), 1))
    return _conditional(items, thresholds, first_day, history, spec)


def _first_day(items: pd.DataFrame, as_of: dt.date) -> np.ndarray:
    return (pd.Timestamp(as_of) - items["due_date"]).dt.days.to_numpy(dtype=float)


def _conditional(items, days, first_day, history, spec) -> np.ndarray:
    buckets = items[[f"p_{name}" for name in spec.bucket_names]].to_numpy(dtype=float)
    mean_days = items["mean_days_when_late"].to_numpy(dtype=float)
    return conditional_survival(days, first_day, buckets, mean_days, history, spec)


# ---------------------------------------------------------------------------- simulation
def simulate_weekly_totals(
    probabilities: np.ndarray,
    amounts: np.ndarray,
    *,
    customers: np.ndarray,
    groups: np.ndarray,
    n_groups: int,
    simulations: int = SIMULATIONS,
    seed: int = SEED,
) -> np.ndarray:
    """Cash paid per group, simulation and week (the last column: after the horizon).

    Parameters
    ----------
    probabilities : array (n, weeks + 1)
        From :func:`week_probabilities`.
    amounts : array (n,)
    customers : array (n,) of int
        Customer codes: a customer's invoices share one uniform draw per simulation.
    groups : array (n,) of int
        Group code (segment) of each invoice, below ``n_groups``.
    simulations, seed : int

    Returns
    -------
    array (n_groups, simulations, weeks + 1)
    """
    n, columns = probabilities.shape
    totals = np.zeros(n_groups * simulations * columns)
    if n == 0:
        return totals.reshape(n_groups, simulations, columns)
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative[:, -1] = np.inf  # whatever rounding left over is paid after the horizon
    rng = np.random.default_rng(seed)
    n_customers = int(customers.max()) + 1
    block = max(1, SIMULATION_BLOCK // (n * columns))
    for start in range(0, simulations, block):
        size = min(block, simulations - start)
        draws = rng.random((size, n_customers))[:, customers]
        week = (draws[:, :, None] >= cumulative[None, :, :]).sum(axis=2)
        simulation = np.arange(start, start + size)[:, None]
        cell = (groups[None, :] * simulations + simulation) * columns + week
        totals += np.bincount(cell.ravel(), weights=np.tile(amounts, size), minlength=len(totals))
    return totals.reshape(n_groups, simulations, columns)


# ----------------------------------------------------------------------- the whole forecast
def open_items(invoices: pd.DataFrame, payments: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Invoices open at the start of ``as_of`` with their outstanding ``balance``.

    ``invoices`` and ``payments`` are the frames of
    :func:`latepay.planning.receivables.load_receivables`.
    """
    # Open at the start of a day is open at the close of the day before.
    items = outstanding_invoices(invoices, as_of - dt.timedelta(days=1), payments)
    items = items.drop(columns="days_past_due").rename(columns={"outstanding": "balance"})
    return items[items["balance"] > 0].reset_index(drop=True)


def with_payment_outlook(
    items: pd.DataFrame, predictions: pd.DataFrame, history: pd.DataFrame, spec: LabelSpec
) -> pd.DataFrame:
    """``items`` with bucket probabilities, ``p_late``, ``mean_days_when_late`` and
    ``predicted``: from ``predictions`` where there is one, else from the customer's record.

    Parameters
    ----------
    items : DataFrame
        Open invoices (``invoice_id``, ``customer_id``, ...).
    predictions : DataFrame
        Indexed by ``invoice_id``: ``p_late``, ``expected_days_late`` and ``p_<bucket>``.
    history : DataFrame
        :func:`latepay.planning.delays.customer_delays` of the same day.
    spec : LabelSpec
    """
    names = [f"p_{name}" for name in spec.bucket_names]
    items = items.copy()
    found = predictions.reindex(items["invoice_id"])
    items["predicted"] = found["p_late"].notna().to_numpy()
    p_late = found["p_late"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        when_late = found["expected_days_late"].to_numpy(dtype=float) / p_late
    for name in names:
        items[name] = found[name].to_numpy(dtype=float)
    items["p_late"] = p_late
    items["mean_days_when_late"] = np.where(p_late > 0, when_late, np.nan)

    shares = [f"share_{name}" for name in spec.bucket_names]
    record = history.reindex(items["customer_id"])
    everyone = _pooled_record(history, spec)
    guessed = ~items["predicted"].to_numpy()
    has_record = record["settled"].fillna(0).to_numpy() > 0
    for name, share in zip(names, shares, strict=True):
        own = record[share].to_numpy(dtype=float)
        items.loc[guessed, name] = np.where(has_record, own, everyone[share])[guessed]
    items.loc[guessed, "p_late"] = 1.0 - items.loc[guessed, names[0]]
    own_days = record["mean_days_when_late"].to_numpy(dtype=float)
    days = np.where(np.isnan(own_days), everyone["mean_days_when_late"], own_days)
    unknown_days = np.isnan(items["mean_days_when_late"].to_numpy())
    items.loc[unknown_days, "mean_days_when_late"] = days[unknown_days]
    return items


def _pooled_record(history: pd.DataFrame, spec: LabelSpec) -> dict[str, float]:
    """Bucket shares and mean days late of every customer's settled invoices together."""
    settled = history["settled"].sum()
    if settled == 0:  # no history at all: expect payment on the due date
        return {
            **{f"share_{name}": float(k == 0) for k, name in enumerate(spec.bucket_names)},
            "mean_days_when_late": float(spec.grace_days + 1),
        }
    pooled = {
        f"share_{name}": float((history[f"share_{name}"] * history["settled"]).sum() / settled)
        for name in spec.bucket_names
    }
    late = history["paid_late"]
    days = (history["mean_days_when_late"] * late).sum()
    pooled["mean_days_when_late"] = (
        float(days / late.sum()) if late.sum() else float(spec.grace_days + 1)
    )
    return pooled


def forecast_cash_in(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    as_of: dt.date,
    spec: LabelSpec,
    segment_cutoffs: tuple[float, float, float],
    weeks: int = DEFAULT_WEEKS,
    simulations: int = SIMULATIONS,
    seed: int = SEED,
) -> Forecast:
    """The weekly cash-in forecast and the reserve as of ``as_of`` (see the module docstring).

    Parameters
    ----------
    invoices, payments : DataFrame
        Every invoice, and the payments of at least the invoices open at the start of
        ``as_of`` (:func:`latepay.planning.receivables.load_receivables`); only what was
        known at the start of ``as_of`` is used.
    predictions : DataFrame
        The latest score of open invoices made by ``as_of``, indexed by ``invoice_id``:
        ``p_late``, ``expected_days_late`` and one ``p_<bucket>`` column per bucket of
        ``spec``.
    as_of : date
        The forecast's first day.
    spec : LabelSpec
        Grace days and bucket edges of the model that made the predictions.
    segment_cutoffs : tuple of three floats
        ``Settings.segment_cutoffs``.
    weeks, simulations, seed : int

    Raises
    ------
    InputError
        For ``weeks`` outside 1 to :data:`MAX_WEEKS` or ``simulations`` below 1.
    """
    if not 1 <= weeks <= MAX_WEEKS:
        raise InputError(f"weeks must be between 1 and {MAX_WEEKS}, got {weeks}")
    if simulations < 1:
        raise InputError(f"simulations must be 1 or more, got {simulations}")
    history = observe_delays(invoices, as_of, spec)
    record = customer_delays(invoices, as_of, spec)
    items = with_payment_outlook(open_items(invoices, payments, as_of), predictions, record, spec)
    items["segment"] = _segments(items, record, segment_cutoffs)
    parts = [
        _currency_forecast(
            currency,
            items[items["currency"] == currency].reset_index(drop=True),
            as_of=as_of,
            weeks=weeks,
            history=history,
            spec=spec,
            simulations=simulations,
            seed=seed,
        )
        for currency in sorted(set(items["currency"]))
    ]
    return Forecast(as_of=as_of, weeks=weeks, simulations=simulations, seed=seed, currencies=parts)


def _segments(
    items: pd.DataFrame, record: pd.DataFrame, cutoffs: tuple[float, float, float]
) -> np.ndarray:
    """Each invoice's customer segment; a guessed P(late) does not count as a score."""
    scored = items[["customer_id", "balance"]].rename(columns={"balance": "amount"})
    scored["p_late"] = items["p_late"].where(items["predicted"])
    history = record[["settled", "paid_late"]].reset_index(names="customer_id")
    segments = customer_segments(scored, history, cutoffs=cutoffs).set_index("customer_id")
    found = items["customer_id"].map(segments["segment"])
    return found.where(found.notna(), UNKNOWN_SEGMENT).to_numpy(dtype=object)


def _currency_forecast(
    currency: str,
    items: pd.DataFrame,
    *,
    as_of: dt.date,
    weeks: int,
    history: DelayHistory,
    spec: LabelSpec,
    simulations: int,
    seed: int,
) -> CurrencyForecast:
    probabilities = week_probabilities(items, as_of=as_of, weeks=weeks, history=history, spec=spec)
    over = late_probabilities(items, as_of=as_of, history=history, spec=spec)
    items = items.assign(p_over_30=over[:, 0], p_over_90=over[:, 1])
    amounts = items["balance"].to_numpy(dtype=float)
    groups = np.array([FORECAST_SEGMENTS.index(s) for s in items["segment"]], dtype=np.int64)
    simulated = simulate_weekly_totals(
        probabilities,
        amounts,
        customers=pd.factorize(items["customer_id"])[0],
        groups=groups,
        n_groups=len(FORECAST_SEGMENTS),
        simulations=simulations,
        seed=seed,
    )
    expected = np.zeros((len(FORECAST_SEGMENTS), weeks + 1))
    np.add.at(expected, groups, probabilities * amounts[:, None])

    def cash_in(mask: np.ndarray, expected_weeks: np.ndarray, runs: np.ndarray) -> CashIn:
        bands = np.percentile(runs, [10, 50, 90], axis=0)
        start = pd.Timestamp(as_of).date()
        return CashIn(
            open_invoices=int(mask.sum()),
            open_amount=float(amounts[mask].sum()),
            weeks=[
                WeekForecast(
                    week=w + 1,
                    start=start + dt.timedelta(days=7 * w),
                    end=start + dt.timedelta(days=7 * w + 6),
                    expected=float(expected_weeks[w]),
                    p10=float(bands[0, w]),
                    p50=float(bands[1, w]),
                    p90=float(bands[2, w]),
                )
                for w in range(weeks)
            ],
            after_horizon=float(expected_weeks[-1]),
        )

    segments = {
        name: cash_in(groups == g, expected[g], simulated[g])
        for g, name in enumerate(FORECAST_SEGMENTS)
        if (groups == g).any()
    }
    guessed = ~items["predicted"].to_numpy(dtype=bool)
    return CurrencyForecast(
        currency=currency,
        total=cash_in(np.ones(len(items), dtype=bool), expected.sum(0), simulated.sum(0)),
        segments=segments,
        reserve=suggest_reserve(items, history, segments=tuple(segments)),
        unpredicted_invoices=int(guessed.sum()),
        unpredicted_amount=float(amounts[guessed].sum()),
    )


# ----------------------------------------------------------------------------- from the db
def latest_scores(
    connection: Connection, invoice_ids: list[str], as_of: dt.date, spec: LabelSpec
) -> pd.DataFrame:
    """Each invoice's newest prediction made as of ``as_of`` or earlier
    (:func:`latepay.scoring.records.latest_predictions`), as numbers.

    Returns
    -------
    DataFrame
        Indexed by ``invoice_id``: ``p_late``, ``expected_days_late`` and ``p_<bucket>``.
    """
    newest = latest_predictions(connection, invoice_ids, as_of, reasons=False)
    columns = ["p_late", "expected_days_late", *(f"p_{n}" for n in spec.bucket_names)]
    frame = pd.DataFrame.from_dict(
        {
            invoice_id: {
                "p_late": score["p_late"],
                "expected_days_late": score["expected_days_late"],
                **{f"p_{n}": score["bucket_probabilities"].get(n) for n in spec.bucket_names},
            }
            for invoice_id, score in newest.items()
        },
        orient="index",
        columns=columns,
    )
    # A score recorded under other bucket edges cannot be read with these: guessed instead.
    return frame.dropna().astype(float)


def build_forecast(
    engine: Engine,
    *,
    as_of: dt.date,
    settings: Settings,
    weeks: int = DEFAULT_WEEKS,
    simulations: int = SIMULATIONS,
    seed: int = SEED,
) -> Forecast:
    """:func:`forecast_cash_in` over the database's invoices, payments and latest scores."""
    spec = settings.label_spec()
    invoices, payments = load_receivables(engine, open_on=as_of)
    candidates = open_items(invoices, payments, as_of)["invoice_id"].tolist()
    with engine.connect() as connection:
        predictions = latest_scores(connection, candidates, as_of, spec)
    return forecast_cash_in(
        invoices,
        payments,
        predictions,
        as_of=as_of,
        spec=spec,
        segment_cutoffs=settings.segment_cutoffs,
        weeks=weeks,
        simulations=simulations,
        seed=seed,
    )
