import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from latepay.models.schema import BOXED_ROWS, FEW_ROWS, OTHER, FeatureSchema


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": rng.lognormal(7.0, 1.0, n),
            "days": rng.integers(0, 90, n).astype(float),
            "count": rng.integers(0, 9, n),
            "flag": rng.integers(0, 2, n).astype(bool),
            "method": rng.choice(["card", "transfer", "direct_debit"], n),
        }
    )


# Very few rows take every value out boxed; a few, the numbers in one call; many, column by
# column.
@pytest.mark.parametrize("rows", [BOXED_ROWS - 14, 200, FEW_ROWS + 200])
def test_the_matrix_gives_lightgbm_exactly_the_numbers_of_the_frame(rows: int) -> None:
    rng = np.random.default_rng(3)
    train = _frame(rng, 2_000)
    y = ((train["method"] == "card") ^ (train["amount"] > 1_000) ^ train["flag"]).astype(int)
    schema = FeatureSchema.learn(train, ["method"])
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "num_leaves": 7},
        lgb.Dataset(schema.apply(train), label=y),
        num_boost_round=20,
    )
    scored = _frame(rng, rows).astype({"method": object, "days": object})
    # What arrives in real requests: an unseen method, missing values, numbers as text.
    scored.loc[0:9, "method"] = "cheque"
    scored.loc[10:19, "method"] = None
    scored.loc[20:29, "amount"] = np.nan
    scored.loc[30:39, "days"] = "12"
    from_frame = booster.predict(schema.apply(scored))
    from_matrix = booster.predict(schema.matrix(scored))
    assert np.array_equal(from_frame, from_matrix)
    assert len(np.unique(from_frame[:40])) > 1


def test_unseen_levels_fold_into_other_and_missing_stays_missing() -> None:
    train = pd.DataFrame({"method": ["card"] * 10 + ["transfer"] * 10 + ["rare"] * 2})
    schema = FeatureSchema.learn(train, ["method"])
    assert schema.categorical["method"] == ("card", "transfer", OTHER)
    applied = schema.apply(pd.DataFrame({"method": ["transfer", "rare", "cheque", None]}))
    assert applied["method"].tolist()[:3] == ["transfer", OTHER, OTHER]
    assert pd.isna(applied["method"].iloc[3])
    codes = schema.matrix(pd.DataFrame({"method": ["transfer", "cheque", None]}))[:, 0]
    assert codes[:2].tolist() == [1.0, 2.0] and np.isnan(codes[2])
