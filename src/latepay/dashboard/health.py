"""Model health for the model page: live performance and drift, computed off the request path.

Both read the whole ledger and describe thousands of invoices, seconds of work on a large
ledger, while a page must load in well under a second. The page therefore shows the newest
health computed in a background thread; a visit finding it missing or older than
``max_age_seconds`` starts a new computation (one at a time) and is told to look again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from latepay.config import Settings
from latepay.db.tables import utcnow
from latepay.errors import LatepayError
from latepay.learning.drift import DriftReport, drift_report
from latepay.learning.performance import PerformanceReport, live_performance

logger = logging.getLogger(__name__)

MAX_AGE_SECONDS = 600.0


@dataclass(frozen=True)
class Health:
    """Live performance and drift as computed at ``computed_at``, for the ``champion`` then
    served; each is None with the reason when it could not be computed."""

    computed_at: dt.datetime
    champion: str | None
    performance: PerformanceReport | None
    performance_missing: str | None
    drift: DriftReport | None
    drift_missing: str | None


class ModelHealth:
    """The newest :class:`Health`, refreshed in the background when stale."""

    def __init__(
        self, engine: Engine, settings: Settings, max_age_seconds: float = MAX_AGE_SECONDS
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.max_age_seconds = max_age_seconds
        self._latest: Health | None = None
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def latest(self, champion: str | None) -> Health | None:
        """The newest health; starts a refresh when it is missing, stale or of another
        champion. Never waits for the refresh."""
        latest = self._latest
        stale = (
            latest is None
            or latest.champion != champion
            or (utcnow() - latest.computed_at).total_seconds() > self.max_age_seconds
        )
        if stale:
            self._start(champion)
        return latest

    def refreshing(self) -> bool:
        worker = self._worker
        return worker is not None and worker.is_alive()

    def compute(self, champion: str | None) -> Health:
        """Compute the health now, in the caller's thread, and keep it."""
        performance, performance_missing = _attempt(
            lambda: live_performance(self.engine, self.settings)
        )
        drift, drift_missing = _attempt(lambda: drift_report(self.engine, self.settings))
        health = Health(
            computed_at=utcnow(),
            champion=champion,
            performance=performance,
            performance_missing=performance_missing,
            drift=drift,
            drift_missing=drift_missing,
        )
        self._latest = health
        return health

    def _start(self, champion: str | None) -> None:
        with self._lock:
            if self.refreshing():
                return
            self._worker = threading.Thread(
                target=self._refresh, args=(champion,), name="model-health", daemon=True
            )
            self._worker.start()

    def _refresh(self, champion: str | None) -> None:
        try:
            self.compute(champion)
        except Exception:
            # A failed refresh must not take the page down: the next visit tries again.
            logger.exception("computing model health failed")


def _attempt(compute):
    try:
        return compute(), None
    except LatepayError as error:
        return None, str(error)
