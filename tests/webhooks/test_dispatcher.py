import asyncio
import logging
import time

import pytest
from sqlalchemy import Engine
from tests.webhooks.conftest import Receiver, deliveries, enqueue, scored_frame

from latepay.db import make_engine, upgrade_to_head
from latepay.webhooks import WebhookDispatcher, subscribe

CRITICAL = scored_frame([("I1", "critical", 0.9)])


async def wait_for(condition, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not delivered in time"
        await asyncio.sleep(0.02)


def test_the_dispatcher_delivers_in_the_background(
    sqlite_engine: Engine, receiver: Receiver
) -> None:
    subscribe(sqlite_engine, receiver.url)

    async def serve() -> None:
        dispatcher = WebhookDispatcher(sqlite_engine, interval=0.05)
        await dispatcher.start()
        enqueue(sqlite_engine, CRITICAL)
        await wait_for(lambda: len(receiver.requests) == 1)
        await dispatcher.stop()

    asyncio.run(serve())
    assert [row.status for row in deliveries(sqlite_engine)] == ["delivered"]


def test_notify_delivers_before_the_interval_from_any_thread(
    sqlite_engine: Engine, receiver: Receiver
) -> None:
    subscribe(sqlite_engine, receiver.url)

    async def serve() -> None:
        dispatcher = WebhookDispatcher(sqlite_engine, interval=60)
        await dispatcher.start()
        await asyncio.sleep(0.1)  # the first round has found nothing and waits its minute
        # A sync route records scores in a worker thread, then wakes the dispatcher from there.
        await asyncio.to_thread(enqueue, sqlite_engine, CRITICAL)
        await asyncio.to_thread(dispatcher.notify)
        await wait_for(lambda: len(receiver.requests) == 1)
        await dispatcher.stop()

    asyncio.run(serve())


def test_a_failing_round_is_logged_and_the_dispatcher_keeps_going(
    sqlite_url: str, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(sqlite_url)  # no tables yet: every round fails until migrated

    async def serve() -> None:
        dispatcher = WebhookDispatcher(engine, interval=0.01)
        await dispatcher.start()
        await wait_for(lambda: any(r.levelno == logging.ERROR for r in caplog.records))
        await asyncio.to_thread(upgrade_to_head, engine)
        subscribe(engine, receiver.url)
        enqueue(engine, CRITICAL)
        dispatcher.notify()
        await wait_for(lambda: len(receiver.requests) == 1)
        await dispatcher.stop()

    with caplog.at_level(logging.ERROR, logger="latepay.webhooks"):
        asyncio.run(serve())
    assert "webhook delivery round failed" in caplog.text
    engine.dispose()


def test_start_twice_is_refused_and_stop_is_idempotent(sqlite_engine: Engine) -> None:
    async def serve() -> None:
        dispatcher = WebhookDispatcher(sqlite_engine, interval=0.05)
        await dispatcher.stop()
        await dispatcher.start()
        with pytest.raises(RuntimeError, match="already running"):
            await dispatcher.start()
        await dispatcher.stop()
        await dispatcher.stop()
        dispatcher.notify()  # after stop: nothing to wake, no error

    asyncio.run(serve())
