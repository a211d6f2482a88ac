"""Hidden payment reliability of each customer and how it drifts.

Reliability is a latent logit (higher pays more reliably). It is never written
out; it shows only through the customer's payment history. The drift is slow
enough that history reveals it, except for a subset of customers who
deteriorate over a few months.
"""

from dataclasses import dataclass

import numpy as np

from latepay.synthetic.vocabulary import INDUSTRIES, SEGMENTS

SEGMENT_RELIABILITY = {"enterprise": 0.2, "mid-market": 0.0, "small": -0.3}
INDUSTRY_RELIABILITY = {
    "manufacturing": 0.1,
    "retail": -0.1,
    "construction": -0.5,
    "healthcare": 0.2,
    "logistics": -0.1,
    "software": 0.3,
    "hospitality": -0.4,
    "agriculture": -0.1,
}
BASE_RELIABILITY_SD = 0.9
MONTHLY_DRIFT_SD = 0.05

DETERIORATING_SHARE = 0.10
DETERIORATION_DROP_RANGE = (1.0, 2.0)
DETERIORATION_MONTHS_RANGE = (4, 10)


@dataclass(frozen=True)
class ReliabilityPath:
    """Monthly reliability of a block of customers.

    Attributes
    ----------
    logit
        Shape ``(customers, months)``; higher means the customer pays more reliably.
    deterioration_start
        Grid month in which each customer starts to deteriorate, or -1.
    """

    logit: np.ndarray
    deterioration_start: np.ndarray


def simulate_reliability(
    rng: np.random.Generator, segment: np.ndarray, industry: np.ndarray, months: int
) -> ReliabilityPath:
    """Simulate each customer's reliability month by month.

    Parameters
    ----------
    rng
        Random generator of this block of customers.
    segment, industry
        Codes of each customer's segment and industry, which shift the baseline.
    months
        Number of months in the period.

    Returns
    -------
    ReliabilityPath
        The reliability logit per customer and month.
    """
    count = len(segment)
    segment_shift = np.array([SEGMENT_RELIABILITY[label] for label in SEGMENTS])[segment]
    industry_shift = np.array([INDUSTRY_RELIABILITY[label] for label in INDUSTRIES])[industry]
    baseline = segment_shift + industry_shift + rng.normal(0.0, BASE_RELIABILITY_SD, count)
    drift = np.cumsum(rng.normal(0.0, MONTHLY_DRIFT_SD, (count, months)), axis=1)

    deteriorates = rng.random(count) < DETERIORATING_SHARE
    start = rng.integers(0, months, count)
    low, high = DETERIORATION_MONTHS_RANGE
    duration = rng.integers(low, high + 1, count)
    drop = np.where(deteriorates, rng.uniform(*DETERIORATION_DROP_RANGE, count), 0.0)
    progress = np.clip(
        (np.arange(months)[None, :] - start[:, None] + 1) / duration[:, None], 0.0, 1.0
    )

    return ReliabilityPath(
        logit=baseline[:, None] + drift - drop[:, None] * progress,
        deterioration_start=np.where(deteriorates, start, -1),
    )
