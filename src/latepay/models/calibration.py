"""Probability calibration that can be saved as plain JSON.

LightGBM trained with class weights ranks well but its probabilities are skewed towards the
weighted class; a calibrator fitted on a later time slice maps them back to observed rates.
Isotonic regression when that slice is large enough, Platt's sigmoid otherwise (isotonic
overfits a few hundred points).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

MIN_ROWS_FOR_ISOTONIC = 1000


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from raw scores to calibrated probabilities.

    ``method`` is ``"isotonic"`` (``x``/``y`` are the step function's knots) or ``"sigmoid"``
    (``x`` holds slope and intercept applied to the raw score's log-odds).
    """

    method: str
    x: tuple[float, ...]
    y: tuple[float, ...] = ()

    @classmethod
    def fit(cls, raw: np.ndarray, y_true: np.ndarray, method: str = "auto") -> Calibrator:
        """Fit on raw probabilities ``raw`` and 0/1 outcomes ``y_true``."""
        if method == "auto":
            method = "isotonic" if len(raw) >= MIN_ROWS_FOR_ISOTONIC else "sigmoid"
        if method == "isotonic":
            isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            isotonic.fit(raw, y_true)
            return cls("isotonic", tuple(isotonic.X_thresholds_), tuple(isotonic.y_thresholds_))
        if method == "sigmoid":
            logistic = LogisticRegression(C=1e4)
            logistic.fit(_logit(raw).reshape(-1, 1), y_true)
            return cls("sigmoid", (float(logistic.coef_[0, 0]), float(logistic.intercept_[0])))
        raise ValueError(
            f"calibration method must be 'auto', 'isotonic' or 'sigmoid', got {method!r}"
        )

    def transform(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            return np.interp(raw, self.x, self.y)
        slope, intercept = self.x
        return 1.0 / (1.0 + np.exp(-(slope * _logit(raw) + intercept)))

    def to_dict(self) -> dict:
        return {"method": self.method, "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, data: dict) -> Calibrator:
        return cls(data["method"], tuple(data["x"]), tuple(data["y"]))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
