"""Scores as text in bulk: exactly the texts Python's repr and pandas' to_csv write."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latepay.scoring.batch import _bucket_json
from latepay.scoring.texts import float_texts, write_csv

EDGES = [
    0.0, -0.0, 1.0, -3.0, 0.5, 0.1 + 0.2, 1e-4, 1e-5, 9.999e-5, 1e9, 1e10, 1e15, 1e16, 1e300,
    5e-324, np.nextafter(1e-4, 0), np.nextafter(1e-4, 1), np.nextafter(1e9, 0),
    123456789.12345678, 2.5e-7, np.inf, -np.inf,
]  # fmt: skip


def test_float_texts_are_python_reprs_across_sixty_decades() -> None:
    rng = np.random.default_rng(0)
    values = rng.random(200_000) * 10.0 ** rng.integers(-30, 30, 200_000)
    values = np.concatenate([values, -values[:1_000], EDGES])

    assert float_texts(values).to_pylist() == [repr(v) for v in values.tolist()]


@given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=50))
def test_any_float_is_written_as_its_repr(values: list[float]) -> None:
    assert float_texts(np.array(values)).to_pylist() == [repr(v) for v in values]


def test_nan_is_missing() -> None:
    assert float_texts(np.array([np.nan, 0.25])).to_pylist() == [None, "0.25"]


TEXTS = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from(list('ab ,"\r\n\té;'))),
    st.text(max_size=5),
)


@settings(max_examples=200)
@given(
    st.lists(st.tuples(TEXTS, st.floats(allow_infinity=False), TEXTS), min_size=1, max_size=20),
    st.booleans(),
)
def test_a_frame_is_written_as_to_csv_writes_it(rows: list[tuple], header: bool) -> None:
    frame = pd.DataFrame(rows, columns=["invoice_id", "p_late", "reasons"])
    frame["reasons"] = frame["reasons"].astype(object)

    assert _written(frame, header=header) == frame.to_csv(index=False, header=header)


@pytest.mark.parametrize("dtype", [object, "str"])
def test_text_columns_of_either_kind_and_empty_frames(dtype) -> None:
    frame = pd.DataFrame(
        {
            "invoice_id": pd.Series(["A-1", "B,2", None, 'say "hi"', "é", ""], dtype=dtype),
            "expected_days_late": [0.0, 1.5, np.nan, 1e-7, 3.0, 12.25],
        }
    )

    assert _written(frame) == frame.to_csv(index=False)
    assert _written(frame.iloc[:0]) == frame.iloc[:0].to_csv(index=False)


def test_other_columns_are_refused() -> None:
    with pytest.raises(TypeError, match="count"):
        _written(pd.DataFrame({"count": [1, 2]}))


def test_bucket_json_is_what_json_dumps_writes() -> None:
    names = ["on_time", "late_1_30", "late_31_plus"]
    rng = np.random.default_rng(1)
    values = rng.random((20_000, 3)) * 10.0 ** rng.integers(-12, 2, (20_000, 3))
    values[0] = [0.0, 1.0, 1e-5]
    scored = pd.DataFrame(values, columns=[f"p_{name}" for name in names])

    written = _bucket_json(scored, names, stored=None)

    assert written == [json.dumps(dict(zip(names, row, strict=True))) for row in values.tolist()]


def _written(frame: pd.DataFrame, *, header: bool = True) -> str:
    stream = io.StringIO()
    write_csv(frame, stream, header=header)
    return stream.getvalue()
