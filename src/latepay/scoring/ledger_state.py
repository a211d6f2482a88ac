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

The service's own invoices change its customers' revisions too, but they change no feature at
a moment on or before their issue and due days (only events strictly before the moment count,
and an unpaid invoice's events are its issue and due days). So after storing them the service
adopts the new revisions, provided they rose by exactly its own rows (no one else wrote in
between), and answers those customers from the snapshot up to that day.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from latepay.db.tables import Customer, LedgerRevision, in_chunks
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

# Told which way each group went: "snapshot" or "database".
OnGroup = Callable[[str], None]


@dataclass
class _Snapshot:
    prepared: PreparedLedger
    shared_revision: int
    # Each customer's revision when the snapshot was read (absent: the customer did not exist).
    revisions: dict[str, int]
    # The last day number a moment may have to be answered from the snapshot, for customers
    # with invoices of the service's own since the snapshot.
    answers_until: dict[str, int] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    # When the first of ``stale`` was found (time.monotonic()).
    stale_since: float = 0.0


@dataclass(frozen=True)
class _Adoption:
    """The service stored invoices of ``customer`` dated from ``day`` on, which raised its
    revision from ``before`` to ``after`` and nothing else."""

    customer: str
    before: int
    after: int
    day: int

    def apply_to(self, snapshot: _Snapshot) -> None:
        """Keep answering the customer from ``snapshot`` (up to the day), if the snapshot
        had its revision from before these invoices."""
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
        # Guards the swap of snapshots against adoptions, and the adoptions made while a new
        # snapshot is being prepared, to be applied to it too.
        self._adopting = threading.Lock()
        self._adopted_meanwhile: list[_Adoption] | None = None

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    def refresh(self, grace_days: int) -> None:
        """Read the whole ledger and prepare a new snapshot (blocking)."""
        with self._refreshing:
            self._refresh(grace_days)

    def _refresh(self, grace_days: int) -> None:
        with self._adopting:
            self._adopted_meanwhile = []
        try:
            # Revisions first: a change landing while the ledger is read then shows up as a
            # revision the snapshot does not have, never as one it claims to have.
            with self.engine.connect() as connection:
                revisions = _all_revisions(connection)
            snapshot = _Snapshot(
                prepared=PreparedLedger(load_ledger(self.engine), grace_days=grace_days),
                shared_revision=revisions.shared,
                revisions=revisions.customers,
            )
            with self._adopting:
                # The service's own invoices stored meanwhile would otherwise make their
                # customers stale in the new snapshot, and under steady load every snapshot
                # would be outdated by the time it is ready.
                for adoption in self._adopted_meanwhile:
                    adoption.apply_to(snapshot)
                self._snapshot = snapshot
        finally:
            with self._adopting:
                self._adopted_meanwhile = None
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

    def features(
        self, queries: pd.DataFrame, *, grace_days: int
    ) -> tuple[pd.DataFrame, Revisions | None]:
        """Features of ``queries`` as of their issue dates, as :func:`build_features` gives
        them from the database now; and the revisions of their customers when they were
        read (None when no snapshot is ever prepared)."""
        if not self.prepare:
            return self._from_database(queries, grace_days), None
        customer_ids = queries["customer_id"].astype(str)
        # Read even without a snapshot to check against: the invoices about to be stored are
        # then adopted by the snapshot being prepared.
        with self.engine.connect() as connection:
            revisions = _revisions(connection, sorted(set(customer_ids)))
        snapshot = self._snapshot
        if (
            snapshot is None
            or snapshot.prepared.grace_days != grace_days
            or revisions.shared != snapshot.shared_revision
        ):
            self.refresh_in_background(grace_days)
            return self._from_database(queries, grace_days), revisions
        days = day_numbers(pd.to_datetime(queries["issue_date"]).dt.normalize())
        stale = {
            customer
            for customer, day in zip(customer_ids, days, strict=True)
            if revisions.customers.get(customer) != snapshot.revisions.get(customer)
            or day > snapshot.answers_until.get(customer, day)
        }
        if not stale:
            self._told("snapshot")
            return snapshot.prepared.features(queries), revisions
        if not snapshot.stale:
            snapshot.stale_since = time.monotonic()
        snapshot.stale |= stale
        if (
            len(snapshot.stale)
            >= max(STALE_CUSTOMERS_FOR_REFRESH, STALE_SHARE_FOR_REFRESH * len(snapshot.revisions))
            or time.monotonic() - snapshot.stale_since >= STALE_SECONDS_FOR_REFRESH
        ):
            self.refresh_in_background(grace_days)
        return self._from_database(queries, grace_days), revisions

    def adopt_own_invoices(
        self, connection: Connection, invoices: pd.DataFrame, checked: Revisions
    ) -> Callable[[], None]:
        """After the service stored ``invoices`` (inside that transaction): what to do once it
        commits so their customers keep being answered from the snapshot.

        ``checked`` are the revisions returned with these invoices' features. A customer is
        kept when the revision has since risen by exactly the invoices stored here (anything
        else means another writer changed it too), in the snapshot served and in one being
        prepared, if they have its revision from before.
        """
        customer_ids = invoices["customer_id"].astype(str).to_numpy()
        own_rows = pd.Series(customer_ids).value_counts()
        now = _revisions(connection, sorted(own_rows.index)).customers
        # The invoice's earliest event: its issue day, or its due day if that came first.
        first_event = np.minimum(
            day_numbers(invoices["issue_date"]), day_numbers(invoices["due_date"])
        )
        last_day = pd.Series(first_event, index=customer_ids).groupby(level=0).min()

        def adopt() -> None:
            adoptions = [
                _Adoption(customer, checked.customers[customer], now[customer], int(day))
                for customer, day in last_day.items()
                if customer in checked.customers
                and now.get(customer) == checked.customers[customer] + own_rows[customer]
            ]
            with self._adopting:
                for adoption in adoptions:
                    if self._snapshot is not None:
                        adoption.apply_to(self._snapshot)
                    if self._adopted_meanwhile is not None:
                        self._adopted_meanwhile.append(adoption)

        return adopt

    def _from_database(self, queries: pd.DataFrame, grace_days: int) -> pd.DataFrame:
        self._told("database")
        ledger = load_ledger(self.engine, customer_ids=queries["customer_id"].unique())
        return build_features(ledger, queries, grace_days=grace_days)

    def _told(self, path: str) -> None:
        if self.on_group is not None:
            self.on_group(path)


def _revisions(connection: Connection, customer_ids: list[str]) -> Revisions:
    customers: dict[str, int] = {}
    for chunk in in_chunks(customer_ids):
        customers.update(
            connection.execute(
                sa.select(Customer.customer_id, Customer.ledger_revision).where(
                    Customer.customer_id.in_(chunk)
                )
            ).all()
        )
    return Revisions(customers=customers, shared=_shared_revision(connection))


def _all_revisions(connection: Connection) -> Revisions:
    customers = dict(
        connection.execute(sa.select(Customer.customer_id, Customer.ledger_revision)).all()
    )
    return Revisions(customers=customers, shared=_shared_revision(connection))


def _shared_revision(connection: Connection) -> int:
    return connection.scalar(sa.select(LedgerRevision.revision).where(LedgerRevision.id == 1))
