"""One scoring path for the API, the CLI, the backtest and retraining."""

from latepay.scoring.score import RISK_TIERS, risk_tiers, score_invoices

__all__ = ["RISK_TIERS", "risk_tiers", "score_invoices"]
