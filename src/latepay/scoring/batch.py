"""Score many invoices with the champion, chunk by chunk, and record every score.

``latepay score --open`` (the open invoices of the database) and ``latepay score FILE`` (new
invoices, see :mod:`latepay.scoring.files`) both go through :func:`score_and_record`: each
chunk is scored by the one scoring path (:func:`~latepay.scoring.score_invoices`), written to
``predictions`` and appended to the output CSV, so memory stays bounded by the chunk whatever
the number of invoices.

Every score is written to ``predictions`` with the model version, the moment it is as of and
a hash of the features it was computed from, so a score can always be traced and repeated.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from latepay.db.tables import Prediction, utcnow
from latepay.features import Ledger
from latepay.ingest.bulk import bulk_session
from latepay.models.gbm import GradientBoostingLateModel
from latepay.models.training import LateModel
from latepay.scoring.records import prediction_rows, utc_moment
from latepay.scoring.score import score_invoices
from latepay.scoring.texts import float_texts, write_csv
from latepay.webhooks import announce_scores

CHUNK_ROWS = 100_000  # invoices scored at once: their features and reasons stay in memory
RECORD_CHUNK_ROWS = 50_000
REASONS_PER_INVOICE = 3

# Called as ``on_chunk(invoices_done, invoices_total)`` before the first chunk and after each.
OnChunk = Callable[[int, int], None]


@dataclass(frozen=True)
class BatchScores:
    """What a batch run scored and where it wrote the scores.

    Attributes
    ----------
    output
        The CSV file of the scores.
    scored
        Invoices scored (and recorded in ``predictions``).
    risk_tiers
        Invoices per risk tier.
    model_version
        The model that scored them.
    """

    output: Path
    scored: int
    risk_tiers: dict[str, int]
    model_version: str | None


def compile_ahead(
    model: LateModel, invoices: int, *, chunk_rows: int = CHUNK_ROWS
) -> threading.Thread | None:
    """Let ``model`` prepare to score ``invoices`` invoices in chunks: a gbm compiles its
    boosters in a thread (returned) when the chunks are large enough to predict by machine
    code (:mod:`latepay.models.compiled`). Called before the ledger is loaded, the compiling
    runs beside that load."""
    if not isinstance(model, GradientBoostingLateModel):
        return None
    return model.compile_ahead(rows=min(invoices, chunk_rows))


def open_invoices(ledger: Ledger, as_of: pd.Timestamp) -> pd.DataFrame:
    """Invoices issued before ``as_of`` and not settled before it (credit notes excluded)."""
    invoices = ledger.invoices
    settled = invoices["settled_date"]
    is_open = (invoices["issue_date"] < as_of) & (settled.isna() | (settled >= as_of))
    return invoices[is_open & ~invoices["is_credit_note"]]


def score_open_invoices(
    engine: Engine,
    model: LateModel,
    ledger: Ledger,
    *,
    as_of: pd.Timestamp,
    tier_cutoffs: tuple[float, float, float],
    output: Path,
    reasons: int = REASONS_PER_INVOICE,
    on_chunk: OnChunk | None = None,
) -> BatchScores:
    """Score the open invoices as of ``as_of``, record the scores and write them to ``output``.

    See :func:`score_and_record` for the parameters.
    """
    invoices = open_invoices(ledger, as_of)
    return score_and_record(
        engine,
        model,
        ledger,
        invoices,
        moments=pd.Series(as_of, index=invoices.index),
        tier_cutoffs=tier_cutoffs,
        output=output,
        reasons=reasons,
        on_chunk=on_chunk,
    )


def score_and_record(
    engine: Engine,
    model: LateModel,
    ledger: Ledger,
    invoices: pd.DataFrame,
    *,
    moments: pd.Series,
    tier_cutoffs: tuple[float, float, float],
    output: Path,
    reasons: int = REASONS_PER_INVOICE,
    chunk_rows: int = CHUNK_ROWS,
    on_chunk: OnChunk | None = None,
) -> BatchScores:
    """Score ``invoices`` as of their ``moments`` in chunks; record and write every score.

    The invoices are taken customer by customer (in their given order within a customer), so
    each chunk reads only its own customers' part of the ledger: features are the same as
    from the whole ledger, at a fraction of the cost. The output has the same order.

    Parameters
    ----------
    engine : Engine
        Where the scores are recorded (``predictions``); each chunk is one transaction.
    model : fitted model
    ledger : Ledger
        What is known; only events before each moment are used.
    invoices : DataFrame
        Canonical invoice columns (see :func:`latepay.features.build_features`).
    moments : Series
        The moment each invoice is scored, aligned with ``invoices``.
    tier_cutoffs : tuple of three floats
    output : Path
        CSV file written chunk by chunk: the columns of :func:`score_invoices`, with the
        reasons as one text of sentences.
    reasons : int
        Reasons per invoice (0 for none: explaining costs far more than scoring).
    chunk_rows : int
        Invoices scored at once.
    on_chunk : callable, optional
        Called as ``on_chunk(done, total)`` before the first chunk and after each chunk is
        recorded and written.
    """
    compile_ahead(model, len(invoices), chunk_rows=chunk_rows)
    by_customer = np.argsort(invoices["customer_id"].to_numpy(dtype=str), kind="stable")
    invoices, moments = invoices.iloc[by_customer], moments.iloc[by_customer]
    tiers: Counter[str] = Counter()
    if on_chunk is not None:
        on_chunk(0, len(invoices))
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="", encoding="utf-8") as stream:
        if invoices.empty:  # nothing to score: the header alone
            write_csv(_empty_scores(model.spec_.bucket_names), stream)
        for start in range(0, len(invoices), chunk_rows):
            chunk = invoices.iloc[start : start + chunk_rows]
            chunk_moments = moments.iloc[start : start + chunk_rows]
            scored = score_invoices(
                model,
                ledger.for_customers(chunk["customer_id"].unique()),
                chunk,
                moments=chunk_moments,
                tier_cutoffs=tier_cutoffs,
                reasons=reasons,
            )
            record_predictions(
                engine,
                scored.assign(customer_id=chunk["customer_id"].to_numpy()),
                moments=chunk_moments,
                bucket_names=model.spec_.bucket_names,
            )
            write_csv(scores_table(scored), stream, header=start == 0)
            tiers.update(scored["risk_tier"])
            if on_chunk is not None:
                on_chunk(start + len(chunk), len(invoices))
    return BatchScores(
        output=output,
        scored=len(invoices),
        risk_tiers=dict(tiers),
        model_version=getattr(model, "version_", None),
    )


def _empty_scores(bucket_names: list[str]) -> pd.DataFrame:
    """The columns :func:`scores_table` writes, without rows."""
    names = [
        "invoice_id",
        "p_late",
        *(f"p_{name}" for name in bucket_names),
        "expected_days_late",
        "risk_tier",
        "model_version",
        "inputs_hash",
        "reasons",
    ]
    return pd.DataFrame(columns=names)


def scores_table(scored: pd.DataFrame) -> pd.DataFrame:
    """Scores as written to a CSV file: the reasons as one text of sentences."""
    table = scored.drop(columns="reasons", errors="ignore")
    reasons = scored["reasons"] if "reasons" in scored else pd.Series([[]] * len(scored))
    table["reasons"] = ["; ".join(r["sentence"] for r in found) for found in reasons]
    return table


def record_predictions(
    engine: Engine, scored: pd.DataFrame, *, moments: pd.Series, bucket_names: list[str]
) -> None:
    """Append one ``predictions`` row per scored invoice, in one transaction.

    Parameters are those of :func:`~latepay.scoring.records.prediction_rows`. On SQLite the
    values go column by column straight to the driver's ``executemany``, stored exactly as
    SQLAlchemy would store them: through SQLAlchemy's statement (a dict per row, each value
    converted on its own), a million scores take about a minute.
    """
    with engine.begin() as connection:
        # Tier changes found by re-scoring reach subscribers too, through the outbox that a
        # running `latepay serve` delivers from.
        announce_scores(connection, scored)
        if connection.dialect.name == "sqlite":
            with bulk_session(connection):
                _insert_into_sqlite(connection, scored, moments, bucket_names)
            return
        rows = prediction_rows(scored, moments=moments, bucket_names=bucket_names)
        for start in range(0, len(rows), RECORD_CHUNK_ROWS):
            connection.execute(sa.insert(Prediction), rows[start : start + RECORD_CHUNK_ROWS])


def _insert_into_sqlite(
    connection: Connection, scored: pd.DataFrame, moments: pd.Series, bucket_names: list[str]
) -> None:
    """``executemany`` on the driver's cursor with the values of :func:`prediction_rows`,
    each converted as its column's SQLAlchemy type converts it, whole columns at a time."""
    table = Prediction.__table__

    def stored(name: str, values: list) -> list:
        convert = (
            table.c[name].type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
        )
        return values if convert is None else list(map(convert, values))

    # A chunk is scored as of a few distinct moments: each is converted once.
    moment_codes, distinct_moments = pd.factorize(pd.to_datetime(moments.to_numpy()))
    as_of = np.asarray(stored("as_of", [utc_moment(m) for m in distinct_moments]), dtype=object)
    columns = {
        "invoice_id": scored["invoice_id"].tolist(),
        "model_version": stored("model_version", scored["model_version"].tolist()),
        "as_of": as_of[moment_codes].tolist(),
        "scored_at": stored("scored_at", [utcnow()]) * len(scored),
        "inputs_hash": scored["inputs_hash"].tolist(),
        "p_late": scored["p_late"].astype(float).tolist(),
        "bucket_probabilities": _bucket_json(scored, bucket_names, stored),
        "expected_days_late": scored["expected_days_late"].astype(float).tolist(),
        "risk_tier": scored["risk_tier"].tolist(),
        "reasons": (
            stored("reasons", [{"reasons": found or []} for found in scored["reasons"]])
            if "reasons" in scored
            else stored("reasons", [{"reasons": []}]) * len(scored)
        ),
    }
    names = [column.name for column in table.columns if column.name != "id"]
    statement = (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    )
    records = list(zip(*(columns[name] for name in names), strict=True))
    with closing(connection.connection.driver_connection.cursor()) as cursor:
        for start in range(0, len(records), RECORD_CHUNK_ROWS):
            cursor.executemany(statement, records[start : start + RECORD_CHUNK_ROWS])


def _bucket_json(scored: pd.DataFrame, bucket_names: list[str], stored) -> list[str]:
    """The ``bucket_probabilities`` JSON of each row, as the column's own serialiser writes
    it (keys in order, floats in their shortest form), built column by column rather than by
    serialising a dict per row."""
    values = scored[[f"p_{name}" for name in bucket_names]].to_numpy(dtype=float)
    if not np.isfinite(values).all():  # JSON spells these its own way: leave it to the serialiser
        return stored(
            "bucket_probabilities",
            [dict(zip(bucket_names, row, strict=True)) for row in values.tolist()],
        )
    pieces: list[str | pa.StringArray] = []
    for position, name in enumerate(bucket_names):
        pieces += [("{" if position == 0 else ", ") + f"{json.dumps(name)}: "]
        pieces += [float_texts(values[:, position])]
    return pc.binary_join_element_wise(*pieces, "}", "").to_pylist()
