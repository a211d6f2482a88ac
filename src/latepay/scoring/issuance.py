"""Invoices arriving at issuance: stored once, scored as of their issue date, recorded.

A billing system posts an invoice the moment it issues it and may post it again (a retry after
a timeout, a replayed queue). Posting is idempotent on ``invoice_id``: the same content gets
back the answer given the first time; different content under a used id is a conflict, and
nothing of that request is stored.

Requests are handled in groups (the API gathers the requests that arrive together), so the
history of all their customers is read once and scored in one call. Each request still
succeeds or fails on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from latepay.db.tables import Customer, Invoice, Prediction, in_chunks, utcnow
from latepay.errors import ConflictError, InputError
from latepay.features.ledger import INVOICE_EXTRA_PREFIX
from latepay.ingest.fingerprint import fingerprints
from latepay.ingest.upsert import insert_missing_customers
from latepay.models.training import LateModel
from latepay.scoring.ledger_state import IssuedStep, LedgerState, record_issued_steps
from latepay.scoring.records import prediction_rows
from latepay.scoring.score import score_features

# The invoice fields a fingerprint covers, in the importer's order, so an invoice posted over
# the API and the same invoice in a later export fingerprint alike.
CONTENT_COLUMNS = [
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "currency",
    "payment_method",
    "channel",
    "extra",
]
STORED_COLUMNS = [c for c in CONTENT_COLUMNS if c != "extra"]

# Called inside the transaction that records new scores, with the scored frame, before the
# scores are inserted (so the previous scores are still the latest): webhooks enqueue their
# events here, so events exist exactly when the scores do.
OnScored = Callable[[Connection, pd.DataFrame], None]


@dataclass
class IssuanceResult:
    """The answer to one request: a stored score per invoice, in the request's order."""

    scores: list[dict[str, Any]]
    created: list[bool] = field(default_factory=list)


def canonical_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Invoice rows of one request, canonical: due date set, extra features spelt out.

    Parameters
    ----------
    records
        Dicts with invoice_id, customer_id, issue_date, due_date or payment_terms_days,
        amount and optionally currency, payment_method, channel and ``features`` (a dict of
        the extra invoice features the model was trained with, by their source names).

    Raises
    ------
    InputError
        When one invoice id appears twice with different content.
    """
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        issue = pd.Timestamp(record["issue_date"])
        due = record.get("due_date")
        if due is None:
            due = issue + pd.Timedelta(days=int(record["payment_terms_days"]))
        features = record.get("features") or {}
        row = {
            "invoice_id": str(record["invoice_id"]),
            "customer_id": str(record["customer_id"]),
            "issue_date": issue,
            "due_date": pd.Timestamp(due),
            "amount": float(record["amount"]),
            "currency": record.get("currency"),
            "payment_method": record.get("payment_method"),
            "channel": record.get("channel"),
            "extra": json.dumps(features, sort_keys=True) if features else None,
            "is_credit_note": float(record["amount"]) < 0,
            **{f"{INVOICE_EXTRA_PREFIX}{k}": v for k, v in features.items()},
        }
        earlier = rows.setdefault(row["invoice_id"], row)
        if earlier != row:
            raise InputError(
                f"invoice id {row['invoice_id']!r} appears twice in the request with "
                "different content"
            )
    return list(rows.values())


def invoice_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Canonical rows (see :func:`canonical_records`) as a frame with their ``row_hash``."""
    frame = pd.DataFrame(list(rows))
    for column in ("issue_date", "due_date"):
        frame[column] = frame[column].astype("datetime64[s]")
    frame["row_hash"] = fingerprints(frame, CONTENT_COLUMNS)
    return frame


def check_invoice_features(model: LateModel, rows: Sequence[dict[str, Any]]) -> None:
    """Refuse invoices lacking an extra invoice feature the model was trained with.

    Checked per request before requests are grouped, so one incomplete request cannot fail
    the others scored with it.
    """
    wanted = [c for c in model.schema_.columns if c.startswith(INVOICE_EXTRA_PREFIX)]
    missing = sorted({c for row in rows for c in wanted if c not in row})
    if missing:
        names = [c.removeprefix(INVOICE_EXTRA_PREFIX) for c in missing]
        raise InputError(
            f"the model also needs the invoice features {names}; send them in 'features' "
            '(for example "features": {"%s": ...})' % names[0]
        )


def issue_invoices(
    engine: Engine,
    model: LateModel,
    requests: Sequence[list[dict[str, Any]]],
    *,
    tier_cutoffs: tuple[float, float, float],
    on_scored: OnScored | None = None,
    ledger_state: LedgerState | None = None,
) -> list[IssuanceResult | ConflictError]:
    """Store and score the invoices of each request (rows from :func:`canonical_records`).

    Invoices already stored with the same content are not stored again; their answer is the
    score recorded at their issuance (scored now, as of their issue date, when there is none).
    Features come from ``ledger_state`` (the service keeps one for all its calls); without
    one, the customers' history is read from the database.

    Returns
    -------
    list
        Per request, its :class:`IssuanceResult`, or the :class:`ConflictError` that refused it.
    """
    state = ledger_state or LedgerState(engine, prepare=False)
    try:
        return _issue(engine, model, requests, tier_cutoffs, on_scored, state)
    except sa.exc.IntegrityError:
        # Another writer (a second server process, an import) stored one of these ids between
        # our read and our write; nothing of ours was written. Seen again, the id is either
        # the same invoice (answered as a repeat) or a conflict.
        return _issue(engine, model, requests, tier_cutoffs, on_scored, state)


def _issue(
    engine: Engine,
    model: LateModel,
    requests: Sequence[list[dict[str, Any]]],
    tier_cutoffs: tuple[float, float, float],
    on_scored: OnScored | None,
    ledger_state: LedgerState,
) -> list[IssuanceResult | ConflictError]:
    # One frame and one fingerprint pass for the whole group; then decisions in plain Python
    # over ids and hashes (pandas selections per request would cost more than the scoring).
    frame = invoice_frame([row for request in requests for row in request])
    hashes_in_order = iter(frame["row_hash"].tolist())
    contents = [{row["invoice_id"]: next(hashes_in_order) for row in r} for r in requests]
    all_ids = list(dict.fromkeys(i for hashes in contents for i in hashes))
    with engine.connect() as connection:
        stored = _stored_hashes(connection, all_ids)
        issued_scores = _scores_at_issuance(connection, all_ids)

    known = dict(stored)
    new_ids: set[str] = set()
    outcomes: list[ConflictError | None] = []
    for hashes in contents:
        conflicting = sorted(i for i, h in hashes.items() if i in known and known[i] != h)
        if conflicting:
            outcomes.append(
                ConflictError(
                    f"invoices {conflicting} already exist with different content; "
                    "an invoice id can be used once (send the original content to repeat it)"
                )
            )
            continue
        outcomes.append(None)
        fresh = {i: h for i, h in hashes.items() if i not in known}
        known.update(fresh)
        new_ids.update(fresh)
    # Stored invoices posted again without a score at issuance (imported, not posted) are
    # scored now, as of their issue date, like new ones.
    unscored = {
        i
        for hashes, outcome in zip(contents, outcomes, strict=True)
        if outcome is None
        for i in hashes
        if i in stored and i not in issued_scores
    }
    # By id and content: a refused request may have carried the same id with other content.
    wanted = new_ids | unscored
    chosen: dict[str, int] = {}
    for position, (i, h) in enumerate(zip(frame["invoice_id"], frame["row_hash"], strict=True)):
        if i in wanted and known[i] == h:
            chosen.setdefault(i, position)
    if chosen:
        to_score = frame.take(list(chosen.values())).reset_index(drop=True)
        features = ledger_state.features(to_score, grace_days=model.spec_.grace_days)
        scored = score_features(model, to_score, features, tier_cutoffs=tier_cutoffs, reasons=3)
        moments = pd.Series(to_score["issue_date"].to_numpy(), index=scored.index)
        rows = prediction_rows(scored, moments=moments, bucket_names=model.spec_.bucket_names)
        new_invoices = to_score.take(
            [position for position, i in enumerate(chosen) if i in new_ids]
        )
        with engine.begin() as connection:
            steps = _store_invoices(connection, new_invoices)
            if on_scored is not None:
                on_scored(connection, scored.assign(customer_id=to_score["customer_id"]))
            connection.execute(sa.insert(Prediction), rows)
        ledger_state.take_issued_steps(steps)
        issued_scores.update({row["invoice_id"]: row for row in rows})

    results: list[IssuanceResult | ConflictError] = []
    for request, outcome in zip(requests, outcomes, strict=True):
        if outcome is not None:
            results.append(outcome)
            continue
        ids = [row["invoice_id"] for row in request]
        results.append(
            IssuanceResult(
                scores=[issued_scores[i] for i in ids], created=[i in new_ids for i in ids]
            )
        )
    return results


def _stored_hashes(connection: Connection, invoice_ids: list[str]) -> dict[str, str]:
    rows = connection.execute(
        sa.select(Invoice.invoice_id, Invoice.row_hash).where(Invoice.invoice_id.in_(invoice_ids))
    )
    return dict(rows.all())


def _scores_at_issuance(connection: Connection, invoice_ids: list[str]) -> dict[str, dict]:
    """The first score recorded as of each invoice's issue date: the answer it was given."""
    rows = connection.execute(
        sa.select(Prediction.__table__, Invoice.issue_date)
        .join(Invoice, Invoice.invoice_id == Prediction.invoice_id)
        .where(Prediction.invoice_id.in_(invoice_ids))
        .order_by(Prediction.id)
    ).mappings()
    first: dict[str, dict] = {}
    for row in rows:
        # Compared in Python: a database's date() of a timestamp depends on its time zone.
        if row["invoice_id"] not in first and row["as_of"].date() == row["issue_date"]:
            first[row["invoice_id"]] = {k: v for k, v in row.items() if k != "issue_date"}
    return first


def _store_invoices(connection: Connection, invoices: pd.DataFrame) -> list[IssuedStep]:
    """Insert new ``invoices`` (and their customers, if new); the revision steps they made
    are recorded, for every server's ledger snapshot to step over."""
    if not len(invoices):
        return []
    now = utcnow()
    customer_ids = sorted(set(invoices["customer_id"].astype(str)))
    # The invoices' triggers lock their customers' rows until commit, in whatever order they
    # meet them; taken first in one order, two servers storing invoices of the same customers
    # wait for each other instead of deadlocking (PostgreSQL; SQLite has a single writer).
    existing = 0
    for chunk in in_chunks(customer_ids):
        existing += len(
            connection.scalars(
                sa.select(Customer.customer_id)
                .where(Customer.customer_id.in_(chunk))
                .order_by(Customer.customer_id)
                .with_for_update()
            ).all()
        )
    if existing < len(customer_ids):
        insert_missing_customers(connection, invoices["customer_id"], now=now)
    # Column by column: a dict per row from pandas costs more than the insert.
    columns = {c: invoices[c].tolist() for c in (*STORED_COLUMNS, "is_credit_note", "row_hash")}
    columns["issue_date"] = [day.date() for day in columns["issue_date"]]
    columns["due_date"] = [day.date() for day in columns["due_date"]]
    columns["extra"] = [json.loads(text) if text else None for text in invoices["extra"]]
    rows = [
        {k: (None if _missing(v) else v) for k, v in zip(columns, values, strict=True)}
        | {"updated_at": now}
        for values in zip(*columns.values(), strict=True)
    ]
    connection.execute(sa.insert(Invoice), rows)
    return record_issued_steps(connection, invoices)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
