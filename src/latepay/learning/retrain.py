"""Champion/challenger retraining: a new model replaces the served one only when it is better.

A retrain trains a *challenger* (gbm) on every label known now, and judges it against the
*champion* on one trailing window of invoices, scored as of their issue dates:

- the challenger's numbers come from a backtest *twin*: the same kind and parameters trained
  only on labels known before the window starts, then scored on the window;
- the champion (as served) is scored on the same invoices.

**Which window.** The invoices issued in the newest ``retrain_window_days`` days (90 by
default, ``LATEPAY_RETRAIN_WINDOW_DAYS``) before the label cutoff whose outcome is known at the
cutoff. With fewer than :data:`MIN_WINDOW_LABELS` of them (or fewer than
:data:`MIN_WINDOW_PER_CLASS` of a class) the window widens to the newest :data:`FALLBACK_SHARE`
of the invoices issued before the cutoff, and the decision says so (``window_fallback``). When
the champion's ``trained_to`` is on or after the window's first day, it has learned from part
of the window while the twin has not: its numbers are optimistic, so the comparison leans
towards keeping the champion, never towards promoting a worse challenger; the decision says so
too (``champion_saw_window``).

**Why trailing.** A window that starts the day after the champion's ``trained_to`` gives the
twin the labels known up to that day -- the champion's own training data -- so the twin can at
best tie with the champion, and a retrain never promotes however much the world has changed
since. With a trailing window, the twin of a champion older than the window knows everything
the champion knew plus the labels that arrived since, and the window asks whether that makes
it better on the newest invoices: the question a retrain must answer after a regime change.

**Decision.** The challenger is promoted when its ROC AUC is at least the quality floor
(``retrain_min_auc``) and at least the champion's plus ``retrain_margin``, and its calibration
error (ECE) is at most the champion's plus ``retrain_ece_tolerance`` -- unless its Brier score
is better anyway (a constant base-rate model is perfectly calibrated and useless, so ECE alone
must not veto a model that is better on a proper score). Without a champion, the
floor alone decides. Otherwise it stays a candidate. The challenger is registered either way,
with both models' metrics and the decision in words.

**Rolling back.** A regime can end as well as begin: after a downturn the champion learnt in
it may do worse than an earlier one. So the :data:`EARLIER_CHAMPIONS` newest earlier champions
that were trained before the window starts (their numbers there are out of time, like the
twin's) are scored on the window too. When the best of them passes the same rule against the
champion and beats the challenger's twin, it becomes the champion again (``rolled_back_to``)
and the challenger stays a candidate.

**Failure.** The champion changes only in the final promotion; a crash or
:class:`~latepay.errors.NotEnoughDataError` before it leaves the registry's champion as it was.
Retrains are serialised by :func:`exclusive_lock`: on PostgreSQL a transaction-level advisory
lock, elsewhere an exclusive file lock in the model folder. The scheduler of ``latepay serve``
takes the same kind of lock, under other names, so that a job never runs twice at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.config import Settings
from latepay.errors import NotEnoughDataError, NotFoundError
from latepay.evaluation.metrics import classification_metrics
from latepay.features import LabelSpec, Ledger, labels_known_at, load_ledger
from latepay.learning.train import model_params_for
from latepay.models.registry import ModelRegistry
from latepay.models.training import LateModel, data_fingerprint, make_model, training_data
from latepay.scoring import score_invoices

logger = logging.getLogger(__name__)

#: Fewest labelled invoices the trailing window needs before it has to widen.
MIN_WINDOW_LABELS = 100
#: Fewest late and on-time invoices the window needs for a ROC AUC.
MIN_WINDOW_PER_CLASS = 10
#: Share of the newest invoices the window widens to when the trailing one is too small.
FALLBACK_SHARE = 0.2
#: How many earlier champions, newest first, a retrain weighs for a roll-back.
EARLIER_CHAMPIONS = 3
#: Name of the lock that serialises retrains (see :func:`exclusive_lock`).
RETRAIN_LOCK = "retrain"
COMPARED_METRICS = ("roc_auc", "pr_auc", "brier", "ece", "log_loss", "base_rate", "n")


@dataclass(frozen=True)
class RetrainDecision:
    """What a retrain did and why.

    ``challenger_metrics`` and ``champion_metrics`` were measured on the same invoices: those
    issued from ``window_from`` to ``label_cutoff`` whose outcome was known at ``label_cutoff``.
    ``window_fallback``: the trailing window had too few labels and widened to the newest
    :data:`FALLBACK_SHARE` of invoices. ``champion_saw_window``: the champion was trained on
    invoices issued from ``window_from`` on, so its numbers are optimistic.
    ``earlier_metrics``: the earlier champions weighed for a roll-back, on the same invoices;
    ``rolled_back_to``: the one that became champion again, if any.
    """

    challenger: str
    champion_before: str | None
    champion_after: str | None
    promoted: bool
    reason: str
    window_from: str
    label_cutoff: str
    window_invoices: int
    window_fallback: bool
    champion_saw_window: bool
    training_rows: int
    challenger_metrics: dict
    champion_metrics: dict | None
    earlier_metrics: dict[str, dict]
    rolled_back_to: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def retrain(
    engine: Engine,
    settings: Settings,
    *,
    now: pd.Timestamp | None = None,
    kind: str = "gbm",
    model_params: dict | None = None,
) -> RetrainDecision:
    """Train a challenger, compare it with the champion on the trailing window, promote if better.

    Parameters
    ----------
    engine : Engine
        Database with the ledger and the ``models`` registry table.
    settings : Settings
        Model folder, label spec, window length, margin, quality floor and ECE tolerance.
    now : Timestamp, optional
        Only outcomes known before this day are labels; the ledger's as-of day by default.
    kind : str, default "gbm"
    model_params : dict, optional
        Estimator parameters; the ones ``latepay train`` uses by default.

    Returns
    -------
    RetrainDecision

    Raises
    ------
    NotEnoughDataError
        When the ledger has too little history to train or to compare; nothing is registered.
    """
    registry = ModelRegistry(settings.model_dir, engine)
    with retrain_lock(engine, settings.model_dir):
        return _retrain_locked(engine, registry, settings, now, kind, model_params)


def retrain_lock(engine: Engine, model_dir: Path) -> contextlib.AbstractContextManager[bool]:
    """Hold the lock that lets one retrain run at a time; wait for it when another holds it."""
    return exclusive_lock(engine, model_dir, RETRAIN_LOCK)


@contextlib.contextmanager
def exclusive_lock(engine: Engine, folder: Path, name: str, *, wait: bool = True) -> Iterator[bool]:
    """Hold the lock called ``name``, shared by every process using ``engine`` and ``folder``.

    On PostgreSQL it is a transaction-level advisory lock, so it holds across hosts (advisory
    locks belong to the whole database, so the key hashes the schema with ``name``: two
    installations in different schemas of one database never block each other). On other
    databases it is an exclusive file lock ``.{name}.lock`` in ``folder`` (the model folder),
    which holds across the processes of one host. Either way it is released when the holder
    ends, even by a crash: there is no lease to expire.

    Parameters
    ----------
    engine : Engine
    folder : Path
        Where the lock file lives when the database is not PostgreSQL.
    name : str
        Which lock; different names never block each other.
    wait : bool, default True
        Wait while another holder has the lock. With False, yield False at once instead, and
        the caller should skip its work.

    Yields
    ------
    bool
        True while the lock is held; False only when ``wait`` is False and it was taken.
    """
    if engine.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        # Released by the end of the transaction, whether the work succeeded or crashed.
        with engine.begin() as connection:
            schema = connection.scalar(sa.text("SELECT current_schema()"))
            scoped = f"{schema}.{name}".encode()
            key = int.from_bytes(hashlib.blake2b(scoped, digest_size=8).digest(), signed=True)
            held = connection.scalar(sa.text(f"SELECT {function}(:key)"), {"key": key})
            yield wait or bool(held)
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f".{name}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _retrain_locked(
    engine: Engine,
    registry: ModelRegistry,
    settings: Settings,
    now: pd.Timestamp | None,
    kind: str,
    model_params: dict | None,
) -> RetrainDecision:
    ledger = load_ledger(engine)
    if ledger.invoices.empty:
        raise NotEnoughDataError("the database has no invoices; run `latepay import` first")
    cutoff = pd.Timestamp(now).normalize() if now is not None else ledger.as_of
    spec = settings.label_spec()
    params = model_params if model_params is not None else model_params_for(kind, settings)
    champion_version = registry.champion_version()
    champion_row = next(
        (row for row in registry.versions() if row["version"] == champion_version), None
    )
    window_from, window, fallback = _comparison_window(
        ledger, cutoff, spec, settings.retrain_window_days
    )
    trained_to = champion_row["trained_to"] if champion_row else None
    # The champion learned from part of the window (the twin did not): its numbers flatter it.
    champion_saw_window = trained_to is not None and pd.Timestamp(trained_to) >= window_from
    outcomes = labels_known_at(window, cutoff, spec)["is_late"].to_numpy()

    backtest_model = make_model(kind, **params).fit(
        training_data(ledger, cutoff=window_from, spec=spec)
    )
    challenger_metrics = _evaluate(backtest_model, ledger, window, outcomes, settings)
    champion_metrics = None
    earlier_metrics: dict[str, dict] = {}
    if champion_version is not None:
        champion = registry.load(champion_version)
        champion_metrics = _evaluate(champion, ledger, window, outcomes, settings)
        earlier_metrics = {
            version: _evaluate(model, ledger, window, outcomes, settings)
            for version, model in _earlier_champions(registry, window_from)
        }

    data = training_data(ledger, cutoff=cutoff, spec=spec)
    model = make_model(kind, **params).fit(data)
    promote, reason = judge(challenger_metrics, champion_metrics, settings)
    roll_back = _roll_back(earlier_metrics, challenger_metrics, champion_metrics, settings)
    rolled_back_to = None
    if roll_back is not None:
        rolled_back_to, why = roll_back
        promote = False
        reason = (
            f"earlier champion {rolled_back_to} is back: {why}; it also beats the challenger's "
            f"{challenger_metrics['roc_auc']:.4f}"
        )
    if fallback:
        reason += (
            f"; the newest {settings.retrain_window_days} days had too few known outcomes to "
            f"compare on, so the window widened to the newest {FALLBACK_SHARE:.0%} of invoices"
        )
    if champion_saw_window:
        reason += (
            f"; the champion trained on invoices up to {pd.Timestamp(trained_to):%Y-%m-%d}, "
            f"inside the window from {window_from:%Y-%m-%d} (its numbers are optimistic, so "
            "the comparison leans towards keeping it)"
        )
    version = registry.register(
        model,
        data_hash=data_fingerprint(data),
        trained_from=data.issue_dates.iloc[0].date(),
        trained_to=data.issue_dates.iloc[-1].date(),
        metrics={
            "holdout": challenger_metrics,
            "holdout_from": f"{window_from:%Y-%m-%d}",
            "champion_on_holdout": champion_metrics,
            "compared_with": champion_version,
            "window_fallback": fallback,
            "champion_saw_window": champion_saw_window,
        },
        notes={"label_cutoff": f"{cutoff:%Y-%m-%d}", "training_rows": len(data.is_late)},
    )
    decision = f"retrain: {'promoted' if promote else 'kept as candidate'}: {reason}"
    if promote:
        registry.promote(version, decision=decision)
    else:
        registry.record_decision(version, decision=decision)
    if rolled_back_to is not None:
        registry.promote(rolled_back_to, decision=f"retrain of {version}: rolled back: {reason}")
    logger.info("retrain registered %s: %s", version, decision)
    return RetrainDecision(
        challenger=version,
        champion_before=champion_version,
        champion_after=version if promote else rolled_back_to or champion_version,
        promoted=promote,
        reason=reason,
        window_from=f"{window_from:%Y-%m-%d}",
        label_cutoff=f"{cutoff:%Y-%m-%d}",
        window_invoices=len(window),
        window_fallback=fallback,
        champion_saw_window=champion_saw_window,
        training_rows=len(data.is_late),
        challenger_metrics=_compared(challenger_metrics),
        champion_metrics=_compared(champion_metrics) if champion_metrics else None,
        earlier_metrics={version: _compared(m) for version, m in earlier_metrics.items()},
        rolled_back_to=rolled_back_to,
    )


def _earlier_champions(
    registry: ModelRegistry, window_from: pd.Timestamp
) -> Iterator[tuple[str, LateModel]]:
    """The newest retired champions trained only on invoices issued before the window.

    A version whose folder is gone (deleted by hand) is skipped, not a reason to fail.
    """
    retired = [
        row["version"]
        for row in registry.versions()  # newest first
        if row["status"] == "retired"
        and row["trained_to"] is not None
        and pd.Timestamp(row["trained_to"]) < window_from
    ]
    for version in retired[:EARLIER_CHAMPIONS]:
        try:
            yield version, registry.load(version)
        except NotFoundError:
            logger.warning("earlier champion %s has no model folder; not weighed", version)


def _roll_back(
    earlier: dict[str, dict], challenger: dict, champion: dict | None, settings: Settings
) -> tuple[str, str] | None:
    """The earlier champion that beats the champion by the rule and the challenger, and why."""
    if champion is None or not earlier:
        return None
    best = max(earlier, key=lambda version: _auc_or_minus_one(earlier[version]))
    better, why = judge(earlier[best], champion, settings, name="earlier champion")
    if better and earlier[best]["roc_auc"] > _auc_or_minus_one(challenger):
        return best, why
    return None


def _auc_or_minus_one(metrics: dict) -> float:
    auc = metrics["roc_auc"]
    return -1.0 if math.isnan(auc) else auc


def _comparison_window(
    ledger: Ledger, cutoff: pd.Timestamp, spec: LabelSpec, days: int
) -> tuple[pd.Timestamp, pd.DataFrame, bool]:
    """The window's first day, its labelled invoices (issue order) and whether it widened.

    The trailing window is the invoices issued in the ``days`` days before ``cutoff`` whose
    outcome is known at ``cutoff``; when they are too few or of one class, the newest
    :data:`FALLBACK_SHARE` of the invoices issued before ``cutoff`` (or the trailing days, if
    those reach further back).
    """
    start = cutoff - pd.Timedelta(days=days)
    window = _labelled_from(ledger, start, cutoff, spec)
    if _comparable(window, cutoff, spec):
        return start, window, False
    start = min(start, _newest_share_from(ledger, cutoff, FALLBACK_SHARE))
    window = _labelled_from(ledger, start, cutoff, spec)
    if not _comparable(window, cutoff, spec):
        raise NotEnoughDataError(
            f"only {len(window)} invoices issued from {start:%Y-%m-%d} have a known outcome; "
            f"a comparison needs {MIN_WINDOW_LABELS} with both late and on-time ones. "
            "Import more history."
        )
    return start, window, True


def _newest_share_from(ledger: Ledger, cutoff: pd.Timestamp, share: float) -> pd.Timestamp:
    """The issue date from which the newest ``share`` of the invoices issued before ``cutoff``
    were issued."""
    invoices = ledger.invoices
    issue = invoices.loc[
        ~invoices["is_credit_note"] & (invoices["issue_date"] < cutoff), "issue_date"
    ].sort_values()
    if issue.empty:
        raise NotEnoughDataError(
            f"no invoices were issued before {cutoff:%Y-%m-%d}; a retrain needs history"
        )
    return pd.Timestamp(issue.iloc[int(len(issue) * (1 - share))])


def _labelled_from(
    ledger: Ledger, start: pd.Timestamp, cutoff: pd.Timestamp, spec: LabelSpec
) -> pd.DataFrame:
    invoices = ledger.invoices
    issued = invoices[
        (invoices["issue_date"] >= start)
        & (invoices["issue_date"] < cutoff)
        & ~invoices["is_credit_note"]
    ]
    labels = labels_known_at(issued, cutoff, spec)
    return issued.loc[labels.index].sort_values(["issue_date", "invoice_id"])


def _comparable(window: pd.DataFrame, cutoff: pd.Timestamp, spec: LabelSpec) -> bool:
    if len(window) < MIN_WINDOW_LABELS:
        return False
    late = int(labels_known_at(window, cutoff, spec)["is_late"].sum())
    return min(late, len(window) - late) >= MIN_WINDOW_PER_CLASS


def _evaluate(
    model: LateModel, ledger: Ledger, window: pd.DataFrame, outcomes, settings: Settings
) -> dict:
    scored = score_invoices(
        model, ledger, window, tier_cutoffs=settings.risk_tier_cutoffs, reasons=0
    )
    return classification_metrics(outcomes, scored["p_late"].to_numpy(), model.threshold_)


def judge(
    challenger: dict, champion: dict | None, settings: Settings, *, name: str = "challenger"
) -> tuple[bool, str]:
    """The promotion rule (see the module's **Decision**): promote, and why in words.

    ``challenger`` and ``champion`` are :func:`~latepay.evaluation.metrics.classification_metrics`
    of the two models on the same invoices; ``champion`` is None when there is none. ``name``
    is what the words call the model that would replace the champion.
    """
    auc = challenger["roc_auc"]
    floor = settings.retrain_min_auc
    if math.isnan(auc) or auc < floor:
        return False, f"{name} ROC AUC {auc:.4f} is below the quality floor {floor:.4f}"
    if champion is None:
        return True, f"no champion yet; {name} ROC AUC {auc:.4f} clears the floor {floor:.4f}"
    needed = champion["roc_auc"] + settings.retrain_margin
    if not auc >= needed:
        return False, (
            f"{name} ROC AUC {auc:.4f} is not above the champion's "
            f"{champion['roc_auc']:.4f} by the margin {settings.retrain_margin:.4f}"
        )
    ece_limit = champion["ece"] + settings.retrain_ece_tolerance
    # A model that always answers the base rate is perfectly calibrated and useless; so a
    # calibration loss only vetoes when the Brier score (ranking and calibration) is no better.
    if challenger["ece"] > ece_limit and challenger["brier"] >= champion["brier"]:
        return False, (
            f"{name} calibration error {challenger['ece']:.4f} is worse than the champion's "
            f"{champion['ece']:.4f} by more than {settings.retrain_ece_tolerance:.4f} and its "
            f"Brier score {challenger['brier']:.4f} is no better than {champion['brier']:.4f}"
        )
    return True, (
        f"{name} ROC AUC {auc:.4f} beats the champion's {champion['roc_auc']:.4f} by "
        f"{auc - champion['roc_auc']:.4f} (margin {settings.retrain_margin:.4f}); "
        f"ECE {challenger['ece']:.4f} vs {champion['ece']:.4f}"
    )


def _compared(metrics: dict) -> dict:
    return {name: metrics[name] for name in COMPARED_METRICS}
