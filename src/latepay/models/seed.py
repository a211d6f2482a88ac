"""``seed``, the baseline: the case study's SMOTE + Random Forest, reproduced faithfully.

An imbalanced-learn ``Pipeline`` of imputation and one-hot encoding, SMOTE, then a
``RandomForestClassifier``. SMOTE is a pipeline step, so it only ever resamples the rows the
forest is fitted on and is skipped at prediction time. The decision threshold stays at 0.5, as
in the case study, and the probabilities are the forest's own (uncalibrated); lateness buckets
and days late come from the shares observed in training.

The fitted pipeline is saved with skops, whose loader refuses any type not on an explicit
allow-list, so loading a seed model never runs arbitrary pickled code.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from latepay.errors import InputError
from latepay.models.base import LatenessProfile, TrainingData, outcome_frame
from latepay.models.schema import FeatureSchema
from latepay.models.state import read_model_state, write_model_state

FORMAT_VERSION = 1
MODEL_FILE = "pipeline.skops"


class SmoteRandomForestModel:
    """SMOTE then Random Forest inside one pipeline.

    Parameters
    ----------
    n_estimators, max_depth, min_samples_leaf : RandomForestClassifier parameters.
    k_neighbors : int
        SMOTE's neighbours.
    random_state, n_jobs : int
    """

    kind = "seed"

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        max_depth: int | None = None,
        min_samples_leaf: int = 1,
        k_neighbors: int = 5,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.k_neighbors = k_neighbors
        self.random_state = random_state
        self.n_jobs = n_jobs

    def get_params(self) -> dict:
        return {
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "min_samples_leaf": self.min_samples_leaf,
            "k_neighbors": self.k_neighbors,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
        }

    def _pipeline(self, schema: FeatureSchema) -> Pipeline:
        numeric = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True))
        categorical = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="missing"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        encode = ColumnTransformer(
            [
                ("numeric", numeric, list(schema.numeric)),
                ("categorical", categorical, list(schema.categorical)),
            ]
        )
        return Pipeline(
            [
                ("encode", encode),
                ("smote", SMOTE(k_neighbors=self.k_neighbors, random_state=self.random_state)),
                (
                    "forest",
                    RandomForestClassifier(
                        n_estimators=self.n_estimators,
                        max_depth=self.max_depth,
                        min_samples_leaf=self.min_samples_leaf,
                        random_state=self.random_state,
                        n_jobs=self.n_jobs,
                    ),
                ),
            ]
        )

    def fit(self, data: TrainingData) -> SmoteRandomForestModel:
        data.check_enough()
        started = time.perf_counter()
        self.spec_ = data.spec
        self.schema_ = FeatureSchema.learn(data.features, data.categorical)
        self.profile_ = LatenessProfile.observe(data)
        self.pipeline_ = self._pipeline(self.schema_)
        self.pipeline_.fit(self._matrix(data.features), data.is_late)
        self.threshold_ = 0.5
        self.training_seconds_ = time.perf_counter() - started
        return self

    def _matrix(self, features: pd.DataFrame) -> pd.DataFrame:
        applied = self.schema_.apply(features)
        for column in self.schema_.categorical:
            applied[column] = applied[column].astype(object).where(applied[column].notna(), None)
        return applied

    def _check_fitted(self) -> None:
        if not hasattr(self, "pipeline_"):
            raise RuntimeError("this model is not fitted yet; call fit() or load() first")

    def predict_proba_late(self, features: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        return self.pipeline_.predict_proba(self._matrix(features))[:, 1]

    def predict_outcome(self, features: pd.DataFrame) -> pd.DataFrame:
        p_late = self.predict_proba_late(features)
        buckets = np.tile(self.profile_.late_bucket_shares, (len(features), 1))
        days = np.full(len(features), self.profile_.mean_days_late)
        return outcome_frame(p_late, buckets, days, self.spec_, features.index)

    def feature_importance(self) -> pd.Series:
        """Impurity importance, one-hot columns summed back to their feature."""
        self._check_fitted()
        names = self.pipeline_.named_steps["encode"].get_feature_names_out()
        importances = self.pipeline_.named_steps["forest"].feature_importances_
        totals: dict[str, float] = {}
        for name, value in zip(names, importances, strict=True):
            transformer, _, column = name.partition("__")
            feature = (
                column if transformer == "numeric" else _categorical_source(column, self.schema_)
            )
            totals[feature] = totals.get(feature, 0.0) + float(value)
        return pd.Series(totals).sort_values(ascending=False)

    def save(self, folder: Path) -> None:
        self._check_fitted()
        folder.mkdir(parents=True, exist_ok=True)
        sio.dump(self.pipeline_, folder / MODEL_FILE)
        write_model_state(folder, self, FORMAT_VERSION)

    @classmethod
    def load(cls, folder: Path) -> SmoteRandomForestModel:
        """Read a model written by :meth:`save`, trusting only scikit-learn/imblearn types."""
        model, _ = read_model_state(folder, cls, FORMAT_VERSION)
        path = folder / MODEL_FILE
        untrusted = sio.get_untrusted_types(file=path)
        allowed = [t for t in untrusted if t.startswith(_TRUSTED_PREFIXES)]
        refused = sorted(set(untrusted) - set(allowed))
        if refused:
            raise InputError(f"{path} contains types latepay does not load: {refused}")
        model.pipeline_ = sio.load(path, trusted=allowed)
        return model


_TRUSTED_PREFIXES = ("sklearn.", "imblearn.", "numpy.")


def _categorical_source(encoded: str, schema: FeatureSchema) -> str:
    """The categorical feature a one-hot column such as ``channel_paper`` came from."""
    for column in sorted(schema.categorical, key=len, reverse=True):
        if encoded.startswith(f"{column}_"):
            return column
    return encoded
