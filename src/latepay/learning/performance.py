"""Live performance: what the model said when each invoice was issued, against what happened.

**Score at issuance.** A prediction is *at issuance* when its ``as_of`` (a UTC moment) falls on
the invoice's issue date, i.e. the UTC calendar day of ``as_of`` equals ``issue_date``. When an
invoice has several, the first one recorded (lowest ``predictions.id``) counts: it is the answer
the billing system got, the same rule ``POST /v1/invoices`` uses to repeat its answer. Later
re-scores (``latepay score --open`` as of a later day) are never used: they knew more.

**Matured.** An invoice has matured when its whole outcome is known at the ledger's as-of day
(:attr:`latepay.features.Ledger.as_of`) by the label rule of :mod:`latepay.features.labels`:
settled before that day, or still unpaid more than ``grace_days`` days past due (a known late
label) *and* more than the last bucket edge days past due (its lateness bucket is decided too).
Only matured invoices scored at issuance are measured; the others are counted, not guessed.

**Numbers.** ROC AUC, Brier score and expected calibration error come from
:func:`latepay.evaluation.metrics.classification_metrics`, and the calibration table from
:func:`~latepay.evaluation.metrics.calibration_table` (ten equal-width bins of P(late), the
bins the ECE is computed on), overall and by month of issue, by the customer's ``segment`` (the
customers table's own column) and by the model version that gave the score.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.config import Settings
from latepay.db.frames import read_frame
from latepay.db.tables import Prediction
from latepay.errors import NotEnoughDataError
from latepay.evaluation.eda import MISSING_LABEL
from latepay.evaluation.metrics import calibration_table, classification_metrics
from latepay.features import labels_known_at, load_ledger

CALIBRATION_BINS = 10
#: Any threshold: only the threshold-free numbers of ``classification_metrics`` are kept.
_NO_THRESHOLD = 0.5


@dataclass(frozen=True)
class CalibrationBin:
    """Invoices whose P(late) at issuance was in ``[lower, upper)`` (``upper`` = 1 included)."""

    lower: float
    upper: float
    invoices: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class GroupPerformance:
    """How the scores at issuance of one group of matured invoices turned out.

    ``roc_auc`` is None when the group holds only late or only on-time invoices.
    """

    group: str
    invoices: int
    late: int
    late_rate: float
    mean_predicted: float
    roc_auc: float | None
    brier: float
    ece: float
    calibration: list[CalibrationBin]


@dataclass(frozen=True)
class PerformanceReport:
    """Live performance on the matured invoices issued from ``since`` on.

    Attributes
    ----------
    as_of
        Outcomes known before this day count (the ledger's as-of day).
    since
        First issue day included; None for all.
    matured
        Invoices measured: scored at issuance and matured.
    not_matured
        Invoices scored at issuance whose outcome is not known yet.
    matured_unscored
        Matured invoices without a score at issuance (imported, or scored only later).
    """

    as_of: dt.date
    since: dt.date | None
    matured: int
    not_matured: int
    matured_unscored: int
    overall: GroupPerformance
    by_month: list[GroupPerformance]
    by_segment: list[GroupPerformance]
    by_model_version: list[GroupPerformance]

    def to_dict(self) -> dict:
        return asdict(self)


def live_performance(
    engine: Engine, settings: Settings, *, since: dt.date | None = None
) -> PerformanceReport:
    """Join every score at issuance with its outcome and measure the matured ones.

    Parameters
    ----------
    engine : Engine
        A latepay database with invoices and predictions.
    settings : Settings
        The label spec (grace days, bucket edges) that decides lateness and maturity.
    since : date, optional
        Only invoices issued on or after this day.

    Raises
    ------
    NotEnoughDataError
        When no invoice scored at issuance has matured yet.
    """
    ledger = load_ledger(engine)
    if ledger.invoices.empty:
        raise NotEnoughDataError("the database has no invoices; run `latepay import` first")
    as_of = ledger.as_of
    invoices = ledger.invoices[~ledger.invoices["is_credit_note"]]
    if since is not None:
        invoices = invoices[invoices["issue_date"] >= pd.Timestamp(since)]
        if invoices.empty:
            raise NotEnoughDataError(f"no invoice was issued on or after {since:%Y-%m-%d}")
    labels = labels_known_at(invoices, as_of, settings.label_spec())
    matured = labels[labels["bucket"] >= 0]
    scores = scores_at_issuance(engine, invoices)
    joined = invoices.loc[matured.index].join(matured["is_late"]).merge(scores, on="invoice_id")
    scored_ids = set(scores["invoice_id"])
    matured_ids = set(invoices.loc[matured.index, "invoice_id"])
    if joined.empty:
        raise NotEnoughDataError(
            f"no invoice scored at issuance has matured before {as_of:%Y-%m-%d} "
            f"({len(scored_ids):,} scored at issuance, {len(matured_ids):,} matured); "
            "an invoice matures when settled or more than "
            f"{max(settings.grace_days, settings.bucket_edges[-1])} days past due"
        )
    segments = ledger.customers.set_index("customer_id")["segment"]
    joined["segment"] = joined["customer_id"].map(segments).fillna(MISSING_LABEL).astype(str)
    joined["month"] = joined["issue_date"].dt.strftime("%Y-%m")
    return PerformanceReport(
        as_of=as_of.date(),
        since=since,
        matured=len(joined),
        not_matured=len(scored_ids - matured_ids),
        matured_unscored=len(matured) - len(joined),
        overall=_group_performance("all", joined),
        by_month=_by(joined, "month"),
        by_segment=_by(joined, "segment"),
        by_model_version=_by(joined, "model_version"),
    )


def scores_at_issuance(engine: Engine, invoices: pd.DataFrame) -> pd.DataFrame:
    """The first prediction as of each invoice's issue date (see the module's definition).

    Returns
    -------
    DataFrame
        invoice_id, model_version, p_late: one row per invoice of ``invoices`` that has one.
    """
    with engine.connect() as connection:
        predictions = read_frame(
            connection,
            sa.select(
                Prediction.invoice_id, Prediction.model_version, Prediction.as_of, Prediction.p_late
            ).order_by(Prediction.id),
        )
    # An inner merge keeps the predictions' order (oldest first). read_frame gives UTC
    # moments, so their day is the UTC calendar day whatever the database's time zone.
    issued = predictions.merge(invoices[["invoice_id", "issue_date"]], on="invoice_id")
    at_issuance = issued["as_of"].dt.normalize() == issued["issue_date"]
    first = issued[at_issuance].drop_duplicates("invoice_id", keep="first")
    return first[["invoice_id", "model_version", "p_late"]].reset_index(drop=True)


def _by(joined: pd.DataFrame, column: str) -> list[GroupPerformance]:
    return [
        _group_performance(str(value), group) for value, group in joined.groupby(column, sort=True)
    ]


def _group_performance(name: str, group: pd.DataFrame) -> GroupPerformance:
    y = group["is_late"].to_numpy()
    p = group["p_late"].to_numpy()
    numbers = classification_metrics(y, p, _NO_THRESHOLD)
    bins = calibration_table(y, p, bins=CALIBRATION_BINS)
    return GroupPerformance(
        group=name,
        invoices=len(y),
        late=int(y.sum()),
        late_rate=numbers["base_rate"],
        mean_predicted=float(p.mean()),
        roc_auc=None if np.isnan(numbers["roc_auc"]) else numbers["roc_auc"],
        brier=numbers["brier"],
        ece=numbers["ece"],
        calibration=[
            CalibrationBin(
                lower=row.bin / CALIBRATION_BINS,
                upper=(row.bin + 1) / CALIBRATION_BINS,
                invoices=int(row.count),
                mean_predicted=float(row.mean_predicted),
                observed_rate=float(row.observed_rate),
            )
            for row in bins.itertuples()
        ],
    )
