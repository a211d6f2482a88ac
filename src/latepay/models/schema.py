"""The feature schema a model was trained with: names, kinds and category levels.

A model must see at prediction time exactly the columns, in the same order and with the same
category codes, as at fit time. The schema is learned in ``fit``, stored as JSON beside the
model, and applied to every frame the model predicts on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from latepay.errors import InputError

# Category levels seen fewer times than this are folded into "other" rather than kept.
MIN_CATEGORY_COUNT = 5
OTHER = "other"
# Up to this many rows, a frame's numbers are taken out in one call rather than column by column.
FEW_ROWS = 1_000
# Up to this many rows (a scoring group at issuance), every value is taken out boxed, in one
# call (:class:`BoxedRows`): selecting the numeric columns alone costs ~0.6 ms however few the
# rows are, boxing a row ~20 µs.
BOXED_ROWS = 64


@dataclass(frozen=True)
class FeatureSchema:
    numeric: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]]

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @classmethod
    def learn(cls, features: pd.DataFrame, categorical: list[str]) -> FeatureSchema:
        """Learn the columns and the category levels of a training frame."""
        levels = {}
        for column in categorical:
            counts = features[column].dropna().astype(str).value_counts()
            kept = sorted(counts[counts >= MIN_CATEGORY_COUNT].index)
            levels[column] = (*kept, OTHER)
        numeric = tuple(c for c in features.columns if c not in levels)
        return cls(numeric=numeric, categorical=levels)

    def apply(self, features: pd.DataFrame) -> pd.DataFrame:
        """The frame in the model's column order, numbers as float, categories coded as at fit.

        Raises
        ------
        InputError
            When a column the model was trained with is missing.
        """
        self._check_columns(features)
        # Built as one dict and one constructor: column-by-column assignment costs more than
        # the prediction itself when a single invoice is scored.
        columns: dict[str, object] = {column: _numbers(features[column]) for column in self.numeric}
        for column, levels in self.categorical.items():
            codes = _category_codes(features[column].to_numpy(dtype=object), levels)
            columns[column] = pd.Categorical.from_codes(codes, categories=list(levels))
        return pd.DataFrame(columns, index=features.index)

    def matrix(self, features: pd.DataFrame) -> np.ndarray:
        """:meth:`apply` as one float matrix, categories as their codes (NaN when missing).

        These are exactly the numbers LightGBM derives from the frame :meth:`apply` returns,
        computed once for all of a model's boosters instead of once per booster.
        """
        self._check_columns(features)
        # Column-major, so each column is one contiguous copy (LightGBM reads either order).
        matrix = np.empty((len(features), len(self.columns)), dtype=np.float64, order="F")
        # For a few rows, columns already held as numbers are converted in one call: column by
        # column, pandas' overhead then costs more than the prediction. For many, the copies
        # that call makes cost more than that overhead.
        boxed = BoxedRows(features) if len(features) <= BOXED_ROWS else None
        if boxed is not None:
            dtypes = boxed.dtypes
        else:
            dtypes = features.dtypes.to_dict() if len(features) <= FEW_ROWS else {}
        held_as_numbers = [
            position
            for position, column in enumerate(self.numeric)
            if held_as_numbers_of_numpy(dtypes.get(column))
        ]
        if held_as_numbers:
            names = [self.numeric[position] for position in held_as_numbers]
            matrix[:, held_as_numbers] = (
                features[names].to_numpy(dtype=np.float64)
                if boxed is None
                else boxed.numbers(names, np.dtype(np.float64))
            )
        for position in set(range(len(self.numeric))) - set(held_as_numbers):
            matrix[:, position] = _numbers(features[self.numeric[position]])
        for position, (column, levels) in enumerate(
            self.categorical.items(), start=len(self.numeric)
        ):
            values = (
                features[column].to_numpy(dtype=object) if boxed is None else boxed.objects(column)
            )
            codes = _category_codes(values, levels).astype(np.float64)
            codes[codes < 0] = np.nan
            matrix[:, position] = codes
        return matrix

    def _check_columns(self, features: pd.DataFrame) -> None:
        missing = [c for c in self.columns if c not in features]
        if missing:
            raise InputError(
                f"features {missing} that the model was trained with are missing; "
                "score with the same mapping (extra features) the model was trained on"
            )

    def to_dict(self) -> dict:
        return {
            "numeric": list(self.numeric),
            "categorical": {k: list(v) for k, v in self.categorical.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSchema:
        return cls(
            numeric=tuple(data["numeric"]),
            categorical={k: tuple(v) for k, v in data["categorical"].items()},
        )


class BoxedRows:
    """The values of a frame of a few rows, taken out in one call as Python objects.

    Given back as a column's own dtype (numbers) or as the objects ``Series.to_numpy(dtype=
    object)`` gives, so they are exactly the values the frame holds.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.dtypes = frame.dtypes.to_dict()
        self._values = frame.to_numpy(dtype=object)
        self._positions = {name: position for position, name in enumerate(frame.columns)}

    def numbers(self, names: list[str], dtype: np.dtype) -> np.ndarray:
        """Columns held as numpy numbers, as one array of ``dtype`` (a row per row)."""
        return self._values[:, [self._positions[name] for name in names]].astype(dtype)

    def objects(self, name: str) -> np.ndarray:
        return self._values[:, self._positions[name]]


def held_as_numbers_of_numpy(dtype: object) -> bool:
    """Whether a column of ``dtype`` holds numpy booleans, integers or floats, which a few rows
    are best taken out of a frame (or hashed) by the block rather than column by column."""
    return isinstance(dtype, np.dtype) and dtype.kind in "biuf"


def _numbers(values: pd.Series) -> np.ndarray:
    """The values as floats: numbers as they are, text coerced (unreadable values missing)."""
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)


def _category_codes(values: np.ndarray, levels: tuple[str, ...]) -> np.ndarray:
    """Codes into ``levels`` of the values (objects) as text: -1 when missing, ``other``'s
    code when not a kept level."""
    # Each distinct value is looked up once: a column holds a few methods or channels.
    positions, distinct = pd.factorize(values)
    code_of = {level: code for code, level in enumerate(levels[:-1])}
    other = len(levels) - 1
    distinct_codes = np.array([code_of.get(str(v), other) for v in distinct] + [-1], np.int16)
    return distinct_codes[positions]  # position -1 (missing) picks the trailing -1
