"""Evaluation: metrics for late-payment predictions and the self-contained HTML report."""

from latepay.evaluation.metrics import (
    calibration_table,
    choose_threshold,
    classification_metrics,
    expected_calibration_error,
    lift_table,
)
from latepay.evaluation.report import DataOverview, ModelEvaluation, write_report

__all__ = [
    "DataOverview",
    "ModelEvaluation",
    "calibration_table",
    "choose_threshold",
    "classification_metrics",
    "expected_calibration_error",
    "lift_table",
    "write_report",
]
