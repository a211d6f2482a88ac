"""Numbers, booleans and codes: normalised, and never guessed at when ambiguous."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from latepay.ingest.values import (
    parse_boolean,
    parse_currency,
    parse_days,
    parse_number,
    parse_text,
)


def _numbers(values: list[str]) -> tuple[list[float | None], list[str]]:
    parsed = parse_number(pd.Series(values, dtype="str"), amount=True)
    numbers = [None if math.isnan(v) else v for v in parsed.values]
    return numbers, parsed.reasons.tolist()


@pytest.mark.parametrize(
    "values, expected",
    [
        (["1234.5", "-3", "+0.25", ""], [1234.5, -3.0, 0.25, None]),
        (["1,234.50", "12.5", "1,000,000"], [1234.5, 12.5, 1_000_000.0]),
        (["1.234,50", "12,5", "1.000.000"], [1234.5, 12.5, 1_000_000.0]),
        (["1,234", "12.50"], [1234.0, 12.5]),  # the decimal point settles what ',' is
        (["1.234", "12,50"], [1234.0, 12.5]),  # the decimal comma settles what '.' is
        (["1.234", "7"], [1.234, 7.0]),  # a lone '.' is the standard decimal point
    ],
)
def test_amounts_in_one_style_are_read(values: list[str], expected: list[float | None]) -> None:
    numbers, reasons = _numbers(values)

    assert numbers == expected
    assert set(reasons) == {""}


def test_a_column_mixing_decimal_styles_rejects_the_minority() -> None:
    numbers, reasons = _numbers(["1,234.50", "12.50", "3,75", "9"])

    assert numbers == [1234.5, 12.5, None, 9.0]
    assert reasons[2].startswith("written with a decimal comma, unlike most of this column")


def test_a_comma_with_nothing_to_settle_it_is_ambiguous() -> None:
    numbers, reasons = _numbers(["1,234", "5"])

    assert numbers == [None, 5.0]
    assert reasons[0].startswith("ambiguous: ',' may separate thousands or decimals")


@pytest.mark.parametrize("value", ["12a", "1 234", "$5", "1e5", "nan", "--1"])
def test_what_is_not_a_number_is_rejected(value: str) -> None:
    assert _numbers([value, "1.5"]) == ([None, 1.5], ["not a number", ""])


def test_amounts_too_large_for_the_database_are_rejected() -> None:
    numbers, reasons = _numbers(["123456789012345.00", "1"])

    assert numbers == [None, 1.0]
    assert reasons[0].startswith("too large for an amount")


def test_booleans_accept_the_usual_spellings() -> None:
    parsed = parse_boolean(pd.Series(["Yes", "n", "TRUE", "0", "1", "", "maybe"], dtype="str"))

    assert parsed.values.tolist()[:5] == [True, False, True, False, True]
    assert parsed.values.isna().tolist()[5:] == [True, True]
    assert parsed.reasons.tolist()[6].startswith("not a yes/no value")


def test_currencies_are_upper_cased_three_letter_codes() -> None:
    parsed = parse_currency(pd.Series(["eur", "Usd", "EURO", ""], dtype="str"))

    assert parsed.values.tolist()[:2] == ["EUR", "USD"]
    assert parsed.invalid.tolist() == [False, False, True, False]


def test_days_are_whole_and_not_negative() -> None:
    parsed = parse_days(pd.Series(["30", "45.0", "7.5", "-1", ""], dtype="str"))

    assert parsed.values.tolist()[:2] == [30, 45]
    assert parsed.invalid.tolist() == [False, False, True, True, False]


def test_text_longer_than_its_column_is_rejected_and_channels_are_lower_cased() -> None:
    parsed = parse_text(pd.Series(["Paper", "x" * 40], dtype="str"), max_length=32, lowercase=True)

    assert parsed.values.tolist()[0] == "paper"
    assert parsed.reasons.tolist() == ["", "longer than 32 characters"]
