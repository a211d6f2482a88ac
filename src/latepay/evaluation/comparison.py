"""seed against gbm on the same backtest, written up as the evaluation report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from latepay.config import Settings
from latepay.evaluation.backtest import BacktestResult, default_cutoff, run_backtest
from latepay.evaluation.metrics import classification_metrics
from latepay.evaluation.report import DataOverview, ModelEvaluation, write_report
from latepay.features import Ledger
from latepay.features.labels import labels_known_at

MODEL_DESCRIPTIONS = {
    "seed": "SMOTE + Random Forest in one pipeline (the case study's method, threshold 0.5)",
    "gbm": "LightGBM, class-weighted, calibrated on the newest slice, cost-based threshold",
}
EXAMPLES_PER_MODEL = 8
SEGMENT_COLUMNS = ("industry", "country", "segment", "channel", "payment_method")


@dataclass(frozen=True)
class Comparison:
    cutoff: pd.Timestamp
    metrics: dict[str, dict]
    training_seconds: dict[str, float]
    report_path: Path

    def to_dict(self) -> dict:
        return {
            "cutoff": f"{self.cutoff:%Y-%m-%d}",
            "report": str(self.report_path),
            "models": {
                name: {**metrics, "training_seconds": self.training_seconds[name]}
                for name, metrics in self.metrics.items()
            },
        }


def compare_models(
    ledger: Ledger,
    *,
    cutoff: pd.Timestamp | None,
    settings: Settings,
    output: Path,
    title: str,
) -> Comparison:
    """Backtest seed and gbm from ``cutoff`` and write the HTML report to ``output``."""
    cutoff = default_cutoff(ledger) if cutoff is None else cutoff
    spec = settings.label_spec()
    results = {
        kind: run_backtest(
            ledger,
            cutoff=cutoff,
            kind=kind,
            spec=spec,
            tier_cutoffs=settings.risk_tier_cutoffs,
            reasons=3 if kind == "gbm" else 0,
        )
        for kind in ("seed", "gbm")
    }
    metrics, evaluations = {}, []
    for kind, result in results.items():
        y_true = result.outcomes["is_late"].to_numpy()
        p_late = result.predictions.loc[result.outcomes.index, "p_late"].to_numpy()
        metrics[kind] = {
            **classification_metrics(y_true, p_late, result.model.threshold_),
            "threshold": result.model.threshold_,
        }
        evaluations.append(
            ModelEvaluation(
                name=kind,
                description=MODEL_DESCRIPTIONS[kind],
                y_true=y_true,
                p_late=p_late,
                threshold=result.model.threshold_,
                feature_importance=result.model.feature_importance(),
                examples=_examples(ledger, result),
                training_seconds=result.model.training_seconds_,
            )
        )
    any_result = next(iter(results.values()))
    overview = DataOverview(
        invoices=_labelled_invoices(ledger, spec),
        title=title,
        split_description=(
            f"Trained on the {any_result.training_rows:,} invoices whose outcome was known "
            f"before {cutoff:%Y-%m-%d}; tested on the {len(any_result.outcomes):,} invoices "
            f"issued from that day on, each scored as of its own issue date."
        ),
    )
    path = write_report(output, overview, evaluations)
    return Comparison(
        cutoff=cutoff,
        metrics=metrics,
        training_seconds={k: r.model.training_seconds_ for k, r in results.items()},
        report_path=path,
    )


def _labelled_invoices(ledger: Ledger, spec) -> pd.DataFrame:
    labels = labels_known_at(ledger.invoices, ledger.as_of, spec)
    invoices = ledger.invoices.loc[labels.index].join(labels[["is_late", "days_late"]])
    customers = ledger.customers.drop_duplicates("customer_id").set_index("customer_id")
    for column in ("industry", "country", "segment"):
        invoices[column] = invoices["customer_id"].map(customers[column])
    keep = ["invoice_id", "customer_id", "issue_date", "amount", "is_late", "days_late"]
    return invoices[[*keep, *SEGMENT_COLUMNS]].reset_index(drop=True)


def _examples(ledger: Ledger, result: BacktestResult) -> pd.DataFrame:
    """The riskiest scored invoices whose outcome is known, with their reasons."""
    known = result.predictions.loc[result.outcomes.index]
    top = known.sort_values("p_late", ascending=False).head(EXAMPLES_PER_MODEL)
    invoices = ledger.invoices.loc[top.index]
    reasons = (
        top["reasons"].map(lambda rs: "; ".join(r["sentence"] for r in rs))
        if "reasons" in top
        else pd.Series("", index=top.index)
    )
    return pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"],
            "customer_id": invoices["customer_id"],
            "amount": invoices["amount"],
            "p_late": top["p_late"].round(3),
            "is_late": result.outcomes.loc[top.index, "is_late"].astype(np.int64),
            "reasons": reasons,
        }
    ).reset_index(drop=True)
