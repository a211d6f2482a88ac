"""Live performance: scores at issuance joined with matured outcomes, on a hand-built ledger.

The ledger's newest date is invoice G's settlement on 2024-05-31, so outcomes are read as of
2024-06-01. Grace 0 days, one bucket edge at 30 days.

====  ========  =========  ==========  ==========================  ========  =======  =====
inv.  customer  issued     due         outcome by 2024-06-01       matured   version  P(late)
====  ========  =========  ==========  ==========================  ========  =======  =====
A     C1 small  01-05      02-04       settled 02-01, on time      yes       m1       0.20
B     C1 small  01-10      02-09       settled 03-01, late         yes       m2       0.60
C     C2 ent.   02-01      03-02       unpaid, 91 days overdue     yes       m2       0.70
D     C2 ent.   02-10      03-11       settled 03-05, on time      yes       m2       0.65
E     C2 ent.   05-10      06-09       unpaid, not due             no       m2       0.50
F     C1 small  04-20      05-20       unpaid, 12 days overdue     no (*)    m2       0.30
G     C1 small  01-15      02-14       settled 05-31, late         yes       (none)
====  ========  =========  ==========  ==========================  ========  =======  =====

(*) F is known late, but its lateness bucket is not decided until it is 31 days overdue.
A also has a re-score as of a later day (0.90) and a second score at issuance recorded after
the first (0.70): neither counts.

By hand, on A, B, C, D (y = 0, 1, 1, 0; p = 0.2, 0.6, 0.7, 0.65):
ROC AUC: late/on-time pairs (0.6>0.2) (0.6<0.65) (0.7>0.2) (0.7>0.65) -> 3/4.
Brier: (0.04 + 0.16 + 0.09 + 0.4225) / 4 = 0.178125.
ECE over ten bins: bin 2 {0.2: y 0} gap 0.2; bin 6 {0.6, 0.65: y 1, 0} gap |0.625 - 0.5|;
bin 7 {0.7: y 1} gap 0.3 -> (0.2 + 2 * 0.125 + 0.3) / 4 = 0.1875.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.config import Settings
from latepay.db.tables import Customer, Invoice, Prediction
from latepay.errors import NotEnoughDataError
from latepay.learning.performance import live_performance

INVOICES = {
    # id: customer, issued, due, settled
    "A": ("C1", "2024-01-05", "2024-02-04", "2024-02-01"),
    "B": ("C1", "2024-01-10", "2024-02-09", "2024-03-01"),
    "C": ("C2", "2024-02-01", "2024-03-02", None),
    "D": ("C2", "2024-02-10", "2024-03-11", "2024-03-05"),
    "E": ("C2", "2024-05-10", "2024-06-09", None),
    "F": ("C1", "2024-04-20", "2024-05-20", None),
    "G": ("C1", "2024-01-15", "2024-02-14", "2024-05-31"),
}
# In the order they are recorded: (invoice, as of, version, P(late)).
PREDICTIONS = [
    ("A", "2024-01-05", "m1", 0.20),
    ("B", "2024-01-10", "m2", 0.60),
    ("A", "2024-01-20", "m2", 0.90),
    ("C", "2024-02-01", "m2", 0.70),
    ("D", "2024-02-10", "m2", 0.65),
    ("A", "2024-01-05", "m2", 0.70),
    ("E", "2024-05-10", "m2", 0.50),
    ("F", "2024-04-20", "m2", 0.30),
]


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


@pytest.fixture
def ledger_engine(engine: Engine) -> Engine:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Customer),
            [
                {"customer_id": "C1", "segment": "small", "row_hash": "h"},
                {"customer_id": "C2", "segment": "enterprise", "row_hash": "h"},
            ],
        )
        connection.execute(
            sa.insert(Invoice),
            [
                {
                    "invoice_id": invoice_id,
                    "customer_id": customer,
                    "issue_date": _day(issued),
                    "due_date": _day(due),
                    "settled_date": _day(settled),
                    "amount": 100.0,
                    "row_hash": "h",
                }
                for invoice_id, (customer, issued, due, settled) in INVOICES.items()
            ],
        )
        for invoice_id, as_of, version, p_late in PREDICTIONS:
            connection.execute(
                sa.insert(Prediction).values(
                    invoice_id=invoice_id,
                    model_version=version,
                    as_of=dt.datetime.fromisoformat(as_of).replace(tzinfo=dt.UTC),
                    inputs_hash="x",
                    p_late=p_late,
                    bucket_probabilities={},
                    expected_days_late=0.0,
                    risk_tier="low",
                )
            )
    return engine


def test_scores_at_issuance_meet_matured_outcomes(ledger_engine: Engine) -> None:
    report = live_performance(ledger_engine, Settings())

    assert report.as_of == dt.date(2024, 6, 1)
    assert (report.matured, report.not_matured, report.matured_unscored) == (4, 2, 1)
    overall = report.overall
    assert (overall.invoices, overall.late) == (4, 2)
    assert overall.late_rate == pytest.approx(0.5)
    assert overall.mean_predicted == pytest.approx((0.2 + 0.6 + 0.7 + 0.65) / 4)
    assert overall.roc_auc == pytest.approx(0.75)
    assert overall.brier == pytest.approx(0.178125)
    assert overall.ece == pytest.approx(0.1875)
    calibration = [
        (b.lower, b.invoices, b.mean_predicted, b.observed_rate) for b in overall.calibration
    ]
    assert calibration == [
        (0.2, 1, pytest.approx(0.2), 0.0),
        (0.6, 2, pytest.approx(0.625), 0.5),
        (0.7, 1, pytest.approx(0.7), 1.0),
    ]


def test_groups_by_month_segment_and_model_version(ledger_engine: Engine) -> None:
    report = live_performance(ledger_engine, Settings())

    months = {g.group: g for g in report.by_month}
    assert sorted(months) == ["2024-01", "2024-02"]
    assert (months["2024-01"].invoices, months["2024-01"].roc_auc) == (2, 1.0)
    assert months["2024-01"].brier == pytest.approx((0.04 + 0.16) / 2)
    assert months["2024-02"].brier == pytest.approx((0.09 + 0.4225) / 2)
    segments = {g.group: g.invoices for g in report.by_segment}
    assert segments == {"enterprise": 2, "small": 2}
    versions = {g.group: g for g in report.by_model_version}
    # m1 scored only A at issuance (on time): no ranking exists within one class.
    assert (versions["m1"].invoices, versions["m1"].roc_auc) == (1, None)
    assert versions["m1"].brier == pytest.approx(0.04)
    # m2: B, C late at 0.6, 0.7 and D on time at 0.65 -> 1 of 2 pairs ranked right.
    assert (versions["m2"].invoices, versions["m2"].roc_auc) == (3, 0.5)


def test_since_keeps_later_issues_and_grace_days_move_maturity(ledger_engine: Engine) -> None:
    report = live_performance(ledger_engine, Settings(), since=dt.date(2024, 2, 1))

    assert (report.matured, report.not_matured, report.matured_unscored) == (2, 2, 0)
    assert [g.group for g in report.by_month] == ["2024-02"]

    # With 100 grace days C (91 days overdue) is neither known late nor matured, and B
    # (settled 21 days after due) is on time.
    lenient = live_performance(ledger_engine, Settings(grace_days=100))
    assert (lenient.matured, lenient.overall.late) == (3, 0)


def test_nothing_matured_is_an_error_that_says_why(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(Customer).values(customer_id="C1", row_hash="h"))
        connection.execute(
            sa.insert(Invoice).values(
                invoice_id="A",
                customer_id="C1",
                issue_date=dt.date(2024, 5, 1),
                due_date=dt.date(2024, 5, 31),
                amount=10.0,
                row_hash="h",
            )
        )

    with pytest.raises(NotEnoughDataError, match="no invoice scored at issuance has matured"):
        live_performance(engine, Settings())


def test_since_after_the_last_issue_is_an_error_that_says_so(ledger_engine: Engine) -> None:
    # Found by schemathesis: an empty selection once reached pandas and failed with a 500.
    with pytest.raises(NotEnoughDataError, match="no invoice was issued on or after 2024-05-11"):
        live_performance(ledger_engine, Settings(), since=dt.date(2024, 5, 11))
