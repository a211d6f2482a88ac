"""The downturn as a regime change: customers of the hit industries start paying differently.

Off by default (``generate_ledger(..., regime_change=True)`` or ``latepay generate
--regime-change`` turns it on). Without it the downturn only lowers the activity index that the
lateness model reads, and a model trained before the downturn keeps ranking well, because the
customers' own payment histories carry the change to it. With it the relation between what is
observable and lateness changes too. In the hit industries, in proportion to how deep the
downturn is that month:

- cash is rationed: invoices above the customer's usual size are held back, so the amount
  weighs far more on lateness than before;
- direct-debit mandates are revoked, so paying by direct debit no longer protects;
- a share of the customers are shaken: their reliability falls with the downturn and comes back
  as it recovers, faster than a year of payment history can show.

A model that learnt the old relations ranks these invoices wrongly until it is retrained on
invoices from the downturn, which is what the adaptation benchmark measures.
"""

import numpy as np

from latepay.synthetic.economy import Economy
from latepay.synthetic.reliability import ReliabilityPath

# Extra logit per unit of (clipped) relative log amount at the downturn's full depth.
RATIONED_AMOUNT_EFFECT = 1.5
SHAKEN_SHARE = 0.5
SHAKEN_DROP_RANGE = (1.0, 2.5)


def shake_reliability(
    rng: np.random.Generator, reliability: ReliabilityPath, industry: np.ndarray, economy: Economy
) -> ReliabilityPath:
    """Lower the reliability of a share of the hit industries' customers along the downturn.

    Parameters
    ----------
    rng
        A random stream of its own, so that turning the regime change on does not move the
        draws of everything else.
    reliability
        Monthly reliability of the block's customers.
    industry
        Industry code of each customer.
    economy
        The indicators, whose ``downturn_stress`` shapes the fall and the recovery.
    """
    count = len(industry)
    shaken = rng.random(count) < SHAKEN_SHARE
    drop = np.where(shaken, rng.uniform(*SHAKEN_DROP_RANGE, count), 0.0)
    stress = economy.downturn_stress[industry]
    return ReliabilityPath(
        logit=reliability.logit - drop[:, None] * stress,
        deterioration_start=reliability.deterioration_start,
    )
