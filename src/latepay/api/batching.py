"""Gather requests that arrive together and handle them in one call.

Scoring one invoice costs nearly as much as scoring fifty: reading the customers' history and
building features has a fixed cost per call. Under load, the requests that queue up while
one group is being handled form the next group, so the fixed cost is shared; alone, a request
is handled at once, without waiting for company.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from latepay.errors import LatepayError

Item = TypeVar("Item")
Result = TypeVar("Result")

logger = logging.getLogger(__name__)

# What a handler returns per item: its result, or the exception that item alone failed with.
Handler = Callable[[Sequence[Item]], Sequence[Result | Exception]]


class MicroBatcher(Generic[Item, Result]):
    """Run ``handler`` in a worker thread on groups of up to ``max_items`` queued items.

    One group is handled at a time, so the handler never runs concurrently with itself (one
    writer to the database, one model call at a time).
    """

    def __init__(self, handler: Handler, *, max_items: int = 64) -> None:
        self.handler = handler
        self.max_items = max_items
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future]] = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    async def submit(self, item: Item) -> Result:
        """Queue ``item`` and wait for its result (or its exception, raised here)."""
        if self._worker is None:
            raise RuntimeError("the batcher is not running; call start() first")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            while len(group) < self.max_items and not self._queue.empty():
                group.append(self._queue.get_nowait())
            items = [item for item, _ in group]
            try:
                results = await asyncio.to_thread(self.handler, items)
            except LatepayError as error:  # the whole group was refused: every caller hears why
                results = [error] * len(items)
            except Exception as error:
                logger.exception("handling a group of %d requests failed", len(items))
                results = [error] * len(items)
            for (_, future), result in zip(group, results, strict=True):
                if future.done():  # the caller went away (client disconnected)
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
