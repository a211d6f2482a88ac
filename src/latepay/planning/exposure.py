"""Expected late amount: what the open receivables are expected to bring in late.

At the close of a day, each open invoice's outstanding amount (see
:func:`latepay.planning.receivables.outstanding_invoices`) is weighted by its latest P(late)
scored on or before that day. Invoices never scored by then are counted apart
(``unscored_amount``), not guessed: on a day when no open invoice had a score the expected
late amount is unknown (NaN), not zero.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.frames import read_frame
from latepay.db.tables import Prediction
from latepay.planning.receivables import Receivables

EXPOSURE_COLUMNS = ["as_of", "receivables", "expected_late_amount", "unscored_amount"]


def load_scores(engine: Engine) -> pd.DataFrame:
    """Every recorded score: invoice_id, as_of (datetime64) and p_late, oldest first."""
    with engine.connect() as connection:
        return read_frame(
            connection,
            sa.select(Prediction.invoice_id, Prediction.as_of, Prediction.p_late).order_by(
                Prediction.as_of, Prediction.scored_at, Prediction.id
            ),
        )


def expected_late_amounts(
    book: Receivables,
    scores: pd.DataFrame,
    days: list[dt.date],
) -> pd.DataFrame:
    """The expected late amount at the close of each of ``days``.

    Parameters
    ----------
    book : Receivables
        The invoices (one currency) and payments of
        :func:`latepay.planning.receivables.load_receivables`.
    scores : DataFrame
        invoice_id, as_of and p_late, oldest first (:func:`load_scores`).
    days : list of date

    Returns
    -------
    DataFrame
        One row per day: as_of, receivables, expected_late_amount (outstanding x latest
        P(late), over scored invoices; NaN when none is scored) and unscored_amount
        (outstanding, never scored).
    """
    rows = []
    for day in days:
        owed = book.outstanding(day)
        known = scores[scores["as_of"] < pd.Timestamp(day) + pd.Timedelta(days=1)]
        latest = known.drop_duplicates("invoice_id", keep="last").set_index("invoice_id")
        p_late = owed["invoice_id"].map(latest["p_late"])
        rows.append(
            {
                "as_of": day,
                "receivables": float(owed["outstanding"].sum()),
                "expected_late_amount": float((owed["outstanding"] * p_late).sum())
                if p_late.notna().any()
                else float("nan"),
                "unscored_amount": float(owed.loc[p_late.isna(), "outstanding"].sum()),
            }
        )
    return pd.DataFrame(rows, columns=EXPOSURE_COLUMNS)
