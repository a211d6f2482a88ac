"""Score invoices as of a moment: the one path every caller uses.

The API scoring one invoice at issuance, ``latepay score`` over a file, the backtest over years
and retraining's comparisons all call :func:`score_invoices`, so the same invoice at the same
moment gets the same answer everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from latepay.features import Ledger, build_features
from latepay.models.explanations import top_reasons
from latepay.models.schema import BOXED_ROWS, FEW_ROWS, BoxedRows, held_as_numbers_of_numpy
from latepay.models.training import LateModel

RISK_TIERS = ("low", "medium", "high", "critical")


def risk_tiers(p_late: np.ndarray, cutoffs: tuple[float, float, float]) -> np.ndarray:
    """low / medium / high / critical by the P(late) cut-offs (each cut-off starts a tier)."""
    return np.asarray(RISK_TIERS, dtype=object)[np.searchsorted(cutoffs, p_late, side="right")]


def score_invoices(
    model: LateModel,
    ledger: Ledger,
    invoices: pd.DataFrame,
    *,
    moments: pd.Series | None = None,
    tier_cutoffs: tuple[float, float, float] = (0.25, 0.5, 0.75),
    reasons: int = 3,
) -> pd.DataFrame:
    """Score ``invoices`` as of their moments (default: issue dates).

    Parameters
    ----------
    model : fitted gbm or seed model
    ledger : Ledger
        What is known; only events before each moment are used.
    invoices : DataFrame
        Canonical invoice columns (see :func:`latepay.features.build_features`).
    moments : Series, optional
        The moment each invoice is scored; its issue date by default.
    tier_cutoffs : tuple of three floats
    reasons : int
        How many reasons per invoice (0 for none; only models that explain their outcome
        give them).

    Returns
    -------
    DataFrame
        invoice_id, p_late, ``p_<bucket>`` columns, expected_days_late, risk_tier,
        model_version, inputs_hash (of the feature row), and ``reasons`` (a list of reason
        dicts) when asked for.
    """
    features = build_features(ledger, invoices, moments=moments, grace_days=model.spec_.grace_days)
    return score_features(model, invoices, features, tier_cutoffs=tier_cutoffs, reasons=reasons)


def score_features(
    model: LateModel,
    invoices: pd.DataFrame,
    features: pd.DataFrame,
    *,
    tier_cutoffs: tuple[float, float, float] = (0.25, 0.5, 0.75),
    reasons: int = 3,
) -> pd.DataFrame:
    """Score ``invoices`` from their ``features`` (from :func:`build_features`, same order);
    see :func:`score_invoices`, which builds them."""
    explains = reasons and hasattr(model, "explain_outcome")
    if explains:
        outcome, contributions = model.explain_outcome(features)
    else:
        outcome = model.predict_outcome(features)
    # Assembled as one dict and one constructor: column by column, pandas' overhead costs
    # more than the scoring when a single invoice is scored.
    columns = {
        "invoice_id": invoices["invoice_id"].reset_index(drop=True),
        **{name: values.to_numpy() for name, values in outcome.items()},
        "risk_tier": risk_tiers(outcome["p_late"].to_numpy(), tier_cutoffs),
        "model_version": getattr(model, "version_", None),
        # The same features always hash the same: a score can be traced to exactly its inputs.
        "inputs_hash": [f"{value:016x}" for value in feature_row_hashes(features)],
    }
    if explains:
        found = top_reasons(features, contributions, top=reasons)
        columns["reasons"] = [[reason.to_dict() for reason in row] for row in found]
    return pd.DataFrame(columns, index=pd.RangeIndex(len(features)))


def feature_row_hashes(features: pd.DataFrame) -> np.ndarray:
    """The hash of each row of ``features``: the values of
    ``pandas.util.hash_pandas_object(features, index=False)``.

    For a few rows, columns held as numbers are hashed a block of one type at a time rather
    than a Series at a time, which then costs more than the scoring; for many, the copies a
    block takes cost more than that, and pandas hashes them. For fewer still (a scoring group
    at issuance), the values are taken out boxed, in one call (:class:`BoxedRows`).
    """
    if len(features) > FEW_ROWS:
        return pd.util.hash_pandas_object(features, index=False).to_numpy()
    boxed = BoxedRows(features) if len(features) <= BOXED_ROWS else None
    dtypes = features.dtypes.to_dict() if boxed is None else boxed.dtypes
    by_type: dict[np.dtype, list[str]] = {}
    for name, dtype in dtypes.items():
        if held_as_numbers_of_numpy(dtype):
            by_type.setdefault(dtype, []).append(name)
    hashes: dict[str, np.ndarray] = {}
    for dtype, names in by_type.items():
        numbers = features[names].to_numpy() if boxed is None else boxed.numbers(names, dtype)
        # Elementwise, so a block hashes as its columns would one by one.
        block = pd.util.hash_array(numbers.T.ravel())
        hashes.update(zip(names, block.reshape(len(names), len(features)), strict=True))
    for name in features.columns:
        if name in hashes:
            continue
        if dtypes[name] == np.dtype(object):
            # Hashed value by value: pandas first factorizes, which costs more for a few rows,
            # and gives a missing value the largest hash.
            values = features[name].to_numpy() if boxed is None else boxed.objects(name)
            hashes[name] = pd.util.hash_array(values, categorize=False)
            hashes[name][pd.isna(values)] = np.iinfo(np.uint64).max
        else:
            # What pandas hashes: the array of an extension or datetime type, else the numbers.
            column = features[name]
            plain = isinstance(dtypes[name], np.dtype) and dtypes[name].kind not in "mM"
            hashes[name] = pd.util.hash_array(column.to_numpy() if plain else column.array)
    return _combined([hashes[name] for name in features.columns], len(features))


def _combined(hashes: list[np.ndarray], length: int) -> np.ndarray:
    """One hash per row from its columns' hashes, as pandas combines them (after CPython's
    tuple hash)."""
    out = np.full(length, 0x345678, dtype=np.uint64)
    factor = np.uint64(1000003)
    for position, column in enumerate(hashes):
        out ^= column
        out *= factor
        factor += np.uint64(82520 + 2 * (len(hashes) - position))
    return out + np.uint64(97531)
