"""The ledger as the scoring service holds it: prepared once, checked before every use.

Reading a group's customers from the database and preparing their features costs far more
than asking a prepared ledger (:class:`~latepay.features.build.PreparedLedger`). So the
service keeps the whole ledger prepared, as a snapshot, and before each use asks the database
one cheap question: the revision of each customer in the group. Database triggers raise a
customer's revision whenever anything its features read changes, whoever writes (an import, a
payment, another server process; migration 0004), and a shared revision when economic
indicators change. A group whose customers all still have the revisions of the snapshot is
answered from it; any other group is read from the database, as without a snapshot, and the
customers found stale count toward preparing a new snapshot in the background.

Invoices stored at issuance change their customers' revisions too, but they change no feature
at a moment on or before their issue and due days (only events strictly before the moment
count, and an unpaid invoice's events are its issue and due days). So whoever stores them
records the step each customer's revision took (``issued_revisions``, in the same
transaction), and every server process, this one or another, steps its snapshot over those
steps and answers those customers from it up to that day. Any other change leaves a gap in
the steps, and the customer is read from the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from latepay.db.tables import Customer, IssuedRevision, LedgerRevision, in_chunks, utcnow
from latepay.features import build_features, load_ledger
from latepay.features.build import PreparedLedger
from latepay.features.events import day_numbers

logger = logging.getLogger(__name__)

# A new snapshot is prepared once this share of its customers (and at least this many) were
# found stale: reading them one group at a time then costs more than preparing everything;
# and in any case this long after the first one was, so a few stale customers do not send
# every group that includes one of them to the database for good.
STALE_SHARE_FOR_REFRESH = 0.01
STALE_CUSTOMERS_FOR_REFRESH = 25
STALE_SECONDS_FOR_REFRESH = 300.0

# Steps older than this are deleted when a snapshot is prepared. A snapshot older than that
# which still needed one finds a gap and reads the customer from the database.
ISSUED_STEPS_KEPT = dt.timedelta(days=1)

# Told which way each group went: "snapshot" or "database".
OnGroup = Callable[[str], None]


@dataclass
class _Snapshot:
    prepared: PreparedLedger
    shared_revision: int
    # Each customer's revision the snapshot answers for: its revision when the snapshot was
    # read (absent: the customer did not exist), stepped over invoices issued since.
    revisions: dict[str, int]
    # The last day number a moment may have to be answered from the snapshot, for customers
    # it was stepped over issued invoices for.
    answers_until: dict[str, int] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    # When the first of ``stale`` was found (time.monotonic()).
    stale_since: float = 0.0


@dataclass(frozen=True)
class IssuedStep:
    """Invoices stored at issuance raised ``customer``'s revision from ``before`` to
    ``after`` and nothing else; they count in features from day number ``day`` on."""

    customer: str
    before: int
    after: int
    day: int

    def apply_to(self, snapshot: _Snapshot) -> None:
        """Keep answering the customer from ``snapshot`` (up to the day), if the snapshot
        is at the revision this step starts from."""
        if snapshot.revisions.get(self.customer) != self.before:
            return
        until = snapshot.answers_until.get(self.customer, self.day)
        snapshot.answers_until[self.customer] = min(until, self.day)
        snapshot.revisions[self.customer] = self.after


@dataclass(frozen=True)
class Revisions:
    """The database's revisions when a group was read: per customer, and shared."""

    customers: dict[str, int]
    shared: int


class LedgerState:
    """Point-in-time features for the scoring service, from a snapshot when it is current.

    Parameters
    ----------
    engine
        The database; it must have the revision triggers of migration 0004.
    prepare
        False to never prepare a snapshot: every group is read from the database (for a
        single call, where preparing the whole ledger would cost more than it saves).
    on_group
        Called with "snapshot" or "database" for every group of features asked for.
    """

    def __init__(
        self, engine: Engine, *, prepare: bool = True, on_group: OnGroup | None = None
    ) -> None:
        self.engine = engine
        self.prepare = prepare
        self.on_group = on_group
        self._snapshot: _Snapshot | None = None
        self._refreshing = threading.Lock()

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    def refresh(self, grace_days: int) -> None:
        """Read the whole ledger and prepare a new snapshot (blocking)."""
        with self._refreshing:
            self._refresh(grace_days)

    def _refresh(self, grace_days: int) -> None:
        # Revisions first: a change landing while the ledger is read then shows up as a
        # revision the snapshot does not have, never as one it claims to have.
        with self.engine.begin() as connection:
            revisions = _all_revisions(connection)
            connection.execute(
                sa.delete(IssuedRevision).where(
                    IssuedRevision.recorded_at < utcnow() - ISSUED_STEPS_KEPT
                )
            )
        self._snapshot = _Snapshot(
            prepared=PreparedLedger(load_ledger(self.engine), grace_days=grace_days),
            shared_revision=revisions.shared,
            revisions=revisions.customers,
        )
        logger.info("ledger snapshot prepared: %d customers", len(revisions.customers))

    def refresh_in_background(self, grace_days: int) -> None:
        """Start :meth:`refresh` in a thread, unless one is already running."""
        if not self.prepare or not self._refreshing.acquire(blocking=False):
            return

        def run() -> None:
            try:
                self._refresh(grace_days)
            except Exception:
                logger.exception("could not prepare a ledger snapshot")
            finally:
                self._refreshing.release()

        threading.Thread(target=run, name="ledger-snapshot", daemon=True).start()

    def features(self, queries: pd.DataFrame, *, grace_days: int) -> pd.DataFrame:
        """Features of ``queries`` as of their issue dates, as :func:`build_features` gives
        them from the database now."""
        snapshot = self._snapshot
        if not self.prepare:
            return self._from_database(queries, grace_days)
        if snapshot is None or snapshot.prepared.grace_days != grace_days:
            self.refresh_in_background(grace_days)
            return self._from_database(queries, grace_days)
        customer_ids = queries["customer_id"].astype(str)
        with self.engine.connect() as connection:
            revisions = _revisions(connection, sorted(set(customer_ids)))
            if revisions.shared != snapshot.shared_revision:
                self.refresh_in_background(grace_days)
                return self._from_database(queries, grace_days)
            behind = {
                customer: snapshot.revisions[customer]
                for customer, revision in revisions.customers.items()
                if customer in snapshot.revisions and revision != snapshot.revisions[customer]
            }
            if behind:
                for step in _issued_steps(connection, behind, revisions.customers):
                    step.apply_to(snapshot)
        days = day_numbers(pd.to_datetime(queries["issue_date"]).dt.normalize())
        stale = {
            customer
            for customer, day in zip(customer_ids, days, strict=True)
            if revisions.customers.get(customer) != snapshot.revisions.get(customer)
            or day > snapshot.answers_until.get(customer, day)
        }
        if not stale:
            self._told("snapshot")
            return snapshot.prepared.features(queries)
        if not snapshot.stale:
            snapshot.stale_since = time.monotonic()
        snapshot.stale |= stale
        if (
            len(snapshot.stale)
            >= max(STALE_CUSTOMERS_FOR_REFRESH, STALE_SHARE_FOR_REFRESH * len(snapshot.revisions))
            or time.monotonic() - snapshot.stale_since >= STALE_SECONDS_FOR_REFRESH
        ):
            self.refresh_in_background(grace_days)
        return self._from_database(queries, grace_days)

    def take_issued_steps(self, steps: Iterable[IssuedStep]) -> None:
        """Step the snapshot over invoices this process stored (once committed), sparing
        the database the question the next time their customers come."""
        snapshot = self._snapshot
        if snapshot is not None:
            for step in steps:
                step.apply_to(snapshot)

    def _from_database(self, queries: pd.DataFrame, grace_days: int) -> pd.DataFrame:
        self._told("database")
        ledger = load_ledger(self.engine, customer_ids=queries["customer_id"].unique())
        return build_features(ledger, queries, grace_days=grace_days)

    def _told(self, path: str) -> None:
        if self.on_group is not None:
            self.on_group(path)


def record_issued_steps(connection: Connection, invoices: pd.DataFrame) -> list[IssuedStep]:
    """Record the revision steps that storing ``invoices`` just made (call it inside that
    transaction, after the insert and before anything else of these customers changes).

    The customers' rows stay locked by the triggers' updates until commit, so each step is
    exactly this transaction's rows: the revision now, less the invoices stored here.
    """
    own_rows: Counter[str] = Counter()
    # The invoices' earliest event: the issue day, or the due day if that came first.
    counts_from: dict[str, dt.date] = {}
    for customer, issue, due in zip(
        invoices["customer_id"].astype(str),
        invoices["issue_date"],
        invoices["due_date"],
        strict=True,
    ):
        own_rows[customer] += 1
        day = min(pd.Timestamp(issue), pd.Timestamp(due)).date()
        counts_from[customer] = min(counts_from.get(customer, day), day)
    now = _customer_revisions(connection, sorted(own_rows))
    steps = [
        IssuedStep(
            customer, now[customer] - rows, now[customer], _day_number(counts_from[customer])
        )
        for customer, rows in own_rows.items()
    ]
    recorded_at = utcnow()
    connection.execute(
        sa.insert(IssuedRevision),
        [
            {
                "customer_id": step.customer,
                "revision_before": step.before,
                "revision_after": step.after,
                "counts_from": counts_from[step.customer],
                "recorded_at": recorded_at,
            }
            for step in steps
        ],
    )
    return steps


def _issued_steps(
    connection: Connection, behind: dict[str, int], now: dict[str, int]
) -> list[IssuedStep]:
    """The recorded steps of each customer of ``behind`` between the revision the snapshot
    has for it and the one it has ``now``, in order. Taken in that order, they lead the
    snapshot as far as they chain; a change by anything else leaves a gap they cannot pass."""
    steps = []
    for chunk in in_chunks(sorted(behind), 100):
        rows = connection.execute(
            sa.select(
                IssuedRevision.customer_id,
                IssuedRevision.revision_before,
                IssuedRevision.revision_after,
                IssuedRevision.counts_from,
            )
            .where(
                sa.or_(
                    *(
                        (IssuedRevision.customer_id == customer)
                        & (IssuedRevision.revision_after > behind[customer])
                        & (IssuedRevision.revision_after <= now[customer])
                        for customer in chunk
                    )
                )
            )
            .order_by(IssuedRevision.customer_id, IssuedRevision.revision_before)
        )
        steps.extend(
            IssuedStep(customer, before, after, _day_number(counts_from))
            for customer, before, after, counts_from in rows
        )
    return steps


def _day_number(day: dt.date) -> int:
    return int(day_numbers(np.array([day], dtype="datetime64[D]"))[0])


def _revisions(connection: Connection, customer_ids: list[str]) -> Revisions:
    return Revisions(
        customers=_customer_revisions(connection, customer_ids),
        shared=_shared_revision(connection),
    )


def _customer_revisions(connection: Connection, customer_ids: list[str]) -> dict[str, int]:
    revisions: dict[str, int] = {}
    for chunk in in_chunks(customer_ids):
        revisions.update(
            connection.execute(
                sa.select(Customer.customer_id, Customer.ledger_revision).where(
                    Customer.customer_id.in_(chunk)
                )
            ).all()
        )
    return revisions


def _all_revisions(connection: Connection) -> Revisions:
    customers = dict(
        connection.execute(sa.select(Customer.customer_id, Customer.ledger_revision)).all()
    )
    return Revisions(customers=customers, shared=_shared_revision(connection))


def _shared_revision(connection: Connection) -> int:
    return connection.scalar(sa.select(LedgerRevision.revision).where(LedgerRevision.id == 1))
