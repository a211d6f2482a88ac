"""The honest test: train on what was known before a cutoff, score what came after.

Every invoice issued on or after the cutoff is scored as of its own issue date, through the
same scoring path the API uses, and compared with what actually happened.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from latepay.errors import NotEnoughDataError
from latepay.features import LabelSpec, Ledger
from latepay.features.labels import labels_known_at
from latepay.models.training import LateModel, make_model, training_data
from latepay.scoring import score_invoices

BACKTEST_COLUMNS_BEFORE_BUCKETS = ["invoice_id", "p_late"]
BACKTEST_COLUMNS_AFTER_BUCKETS = ["expected_days_late", "risk_tier", "model_version"]


@dataclass(frozen=True)
class BacktestResult:
    model: LateModel
    cutoff: pd.Timestamp
    predictions: pd.DataFrame  # the backtest columns, for every invoice issued from the cutoff
    outcomes: pd.DataFrame  # is_late, days_late, bucket of scored invoices known at ledger.as_of
    training_rows: int

    def output_columns(self) -> list[str]:
        buckets = [f"p_{name}" for name in self.model.spec_.bucket_names]
        return [*BACKTEST_COLUMNS_BEFORE_BUCKETS, *buckets, *BACKTEST_COLUMNS_AFTER_BUCKETS]


def default_cutoff(ledger: Ledger, test_share: float = 0.25) -> pd.Timestamp:
    """The issue date from which the newest ``test_share`` of invoices were issued."""
    issue = ledger.invoices.loc[~ledger.invoices["is_credit_note"], "issue_date"].sort_values()
    if issue.empty:
        raise NotEnoughDataError("the ledger has no invoices to backtest on")
    return pd.Timestamp(issue.iloc[int(len(issue) * (1 - test_share))])


def run_backtest(
    ledger: Ledger,
    *,
    cutoff: pd.Timestamp,
    kind: str = "gbm",
    spec: LabelSpec,
    tier_cutoffs: tuple[float, float, float],
    model_params: dict | None = None,
    reasons: int = 0,
) -> BacktestResult:
    """Train ``kind`` on labels known before ``cutoff``; score invoices issued from it on."""
    cutoff = pd.Timestamp(cutoff).normalize()
    data = training_data(ledger, cutoff=cutoff, spec=spec)
    model = make_model(kind, **(model_params or {})).fit(data)
    model.version_ = f"backtest-{kind}-{cutoff:%Y%m%d}"
    invoices = ledger.invoices
    test = invoices[(invoices["issue_date"] >= cutoff) & ~invoices["is_credit_note"]]
    if test.empty:
        raise NotEnoughDataError(f"no invoice was issued on or after the cutoff {cutoff:%Y-%m-%d}")
    scored = score_invoices(
        model, ledger, test, tier_cutoffs=tier_cutoffs, reasons=reasons
    ).set_index(test.index)
    outcomes = labels_known_at(test, ledger.as_of, spec)
    return BacktestResult(
        model=model,
        cutoff=cutoff,
        predictions=scored,
        outcomes=outcomes,
        training_rows=len(data.is_late),
    )
