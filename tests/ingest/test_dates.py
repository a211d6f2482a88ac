"""Date columns: each supported format is inferred, ambiguity is an error, never a guess."""

from __future__ import annotations

import pandas as pd
import pytest

from latepay.errors import InputError
from latepay.ingest.dates import parse_dates


def _parse(values: list[str], declared: str | None = None, *, month: bool = False):
    return parse_dates(
        pd.Series(values, dtype="str"),
        declared_format=declared,
        allow_month=month,
        file_name="f.csv",
        column="D",
        canonical="issue_date",
    )


def _iso(parsed) -> list[str | None]:
    return [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in parsed.values]


@pytest.mark.parametrize(
    "values, date_format",
    [
        (["2024-01-31", "2024-02-01", ""], "%Y-%m-%d"),
        (["2024-01-31 13:45:00", "2024-02-01 00:00:00", ""], "%Y-%m-%d"),
        (["2024-01-31T13:45:00Z", "2024-02-01T08:00:00+02:00", ""], "%Y-%m-%d"),
        (["1/31/2024", "2/1/2024", ""], "%m/%d/%Y"),
        (["31/01/2024", "01/02/2024", ""], "%d/%m/%Y"),
        (["31.01.2024", "1.2.2024", ""], "%d.%m.%Y"),
        (["20240131", "20240201", ""], "%Y%m%d"),
        (["20240131.0", "20240201.0", ""], "%Y%m%d"),
        (["1/31/2024 1:45 PM", "2/1/2024 9:00 AM", ""], "%m/%d/%Y"),
    ],
)
def test_each_supported_format_is_inferred(values: list[str], date_format: str) -> None:
    parsed = _parse(values)

    assert parsed.date_format == date_format
    assert _iso(parsed) == ["2024-01-31", "2024-02-01", None]
    assert not parsed.invalid.any()


def test_day_and_month_both_twelve_or_less_is_ambiguous() -> None:
    with pytest.raises(InputError, match=r'date_formats: \{issue_date: "%d/%m/%Y"\}'):
        _parse(["01/02/2024", "03/04/2024"])


def test_a_declared_format_settles_the_ambiguity() -> None:
    parsed = _parse(["01/02/2024", "03/04/2024"], declared="%d/%m/%Y")

    assert _iso(parsed) == ["2024-02-01", "2024-04-03"]


def test_the_best_format_wins_and_the_rest_are_invalid() -> None:
    parsed = _parse(["2024-01-31", "2024-02-30", "yesterday", "2024-03-01", ""])

    assert parsed.date_format == "%Y-%m-%d"
    assert parsed.invalid.tolist() == [False, True, True, False, False]
    assert parsed.reason() == "not a date in format %Y-%m-%d"


def test_a_column_of_no_dates_at_all_is_all_invalid() -> None:
    parsed = _parse(["soon", "later"])

    assert parsed.date_format is None
    assert parsed.invalid.all()
    assert parsed.reason().startswith("not a date (e.g. 2024-03-31")


def test_a_declared_format_rejects_what_it_cannot_read() -> None:
    parsed = _parse(["31.01.2024", "2024-02-01"], declared="%d.%m.%Y")

    assert parsed.invalid.tolist() == [False, True]
    assert parsed.reason() == "not a date in format %d.%m.%Y"


def test_periods_accept_year_and_month_as_its_first_day() -> None:
    parsed = _parse(["2024-01", "2024-12"], month=True)

    assert _iso(parsed) == ["2024-01-01", "2024-12-01"]
