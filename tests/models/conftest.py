import numpy as np
import pandas as pd
import pytest

from latepay.features import Ledger


@pytest.fixture(scope="session")
def learnable_ledger() -> Ledger:
    """~3,000 invoices of 60 customers whose lateness follows a hidden reliability."""
    rng = np.random.default_rng(42)
    customers, invoices = 60, 3000
    reliability = rng.normal(0, 1.5, customers)
    customer = rng.integers(0, customers, invoices)
    issue = pd.Timestamp("2022-01-01") + pd.to_timedelta(
        np.sort(rng.integers(0, 700, invoices)), unit="D"
    )
    method = rng.choice(["transfer", "cheque", "direct_debit"], invoices)
    logit = -0.6 - reliability[customer] + np.where(method == "cheque", 0.8, 0.0)
    late = rng.random(invoices) < 1 / (1 + np.exp(-logit))
    days_late = np.where(
        late, rng.choice([5, 12, 25, 45, 70], invoices), -rng.integers(0, 20, invoices)
    )
    due = issue + pd.Timedelta(days=30)
    return Ledger.from_frames(
        invoices=pd.DataFrame(
            {
                "invoice_id": [f"I{i:05d}" for i in range(invoices)],
                "customer_id": [f"C{c:03d}" for c in customer],
                "issue_date": issue,
                "due_date": due,
                "settled_date": due + pd.to_timedelta(days_late, unit="D"),
                "amount": np.round(rng.lognormal(7, 0.8, invoices), 2),
                "payment_method": method,
                "channel": rng.choice(["paper", "electronic"], invoices),
            }
        )
    )
