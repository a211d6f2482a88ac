"""The background task that keeps delivering webhook events while the API server runs."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import httpx
from sqlalchemy import Engine

from latepay.webhooks.delivery import DEFAULT_BATCH, TIMEOUT_SECONDS, deliver_due

logger = logging.getLogger(__name__)

# While the database keeps failing, rounds slow down to this, so a long outage is not one
# logged traceback per interval.
MAX_ERROR_PAUSE_SECONDS = 60.0
# Long enough for a round's requests to time out; a round cut short is retried after its lease.
STOP_GRACE_SECONDS = TIMEOUT_SECONDS + 5.0


class WebhookDispatcher:
    """Runs :func:`~latepay.webhooks.deliver_due` every ``interval`` seconds in the background.

    Parameters
    ----------
    engine : Engine
    interval : float
        Seconds between rounds when nothing wakes it earlier.
    client : httpx.AsyncClient, optional
        Used as given and left open; by default the dispatcher opens one and closes it on stop.

    Examples
    --------
    In the FastAPI lifespan::

        dispatcher = WebhookDispatcher(engine)
        await dispatcher.start()
        yield
        await dispatcher.stop()
    """

    def __init__(
        self, engine: Engine, *, interval: float = 1.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.client = client
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start delivering, on the running event loop."""
        if self._task is not None:
            raise RuntimeError("the webhook dispatcher is already running; stop it first")
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self._http = self.client or httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
        self._task = asyncio.create_task(self._run(), name="latepay-webhook-dispatcher")

    def notify(self) -> None:
        """Deliver now rather than at the next interval; call it after committing new events.

        Safe to call from any thread (a sync route runs in a worker thread), and a no-op while
        the dispatcher is not running.
        """
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        """Finish the current round (cancelling it after a grace period) and stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            # On timeout wait_for cancels the round; its claimed deliveries are retried once
            # their lease runs out.
            await asyncio.wait_for(self._task, STOP_GRACE_SECONDS)
        except TimeoutError:
            logger.warning("webhook dispatcher stopped mid-round after %s s", STOP_GRACE_SECONDS)
        finally:
            self._task = None
            if self.client is None:
                await self._http.aclose()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                stats = await deliver_due(self.engine, self._http)
            except Exception:
                failures += 1
                pause = min(self.interval * 2**failures, MAX_ERROR_PAUSE_SECONDS)
                logger.exception("webhook delivery round failed; next round in %.0f s", pause)
                await self._sleep(pause)
                continue
            failures = 0
            if stats.claimed < DEFAULT_BATCH:
                await self._sleep(self.interval)
            # A full batch means more are waiting: go on at once.

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when woken by :meth:`notify` or :meth:`stop`."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
