"""Requests queued together are handled together; each still gets its own answer or error."""

from __future__ import annotations

import asyncio
import threading

import pytest

from latepay.api.batching import MicroBatcher
from latepay.errors import InputError


def test_requests_arriving_together_share_one_call_and_keep_their_own_answers() -> None:
    groups: list[list[int]] = []
    release = threading.Event()

    def handler(items):
        groups.append(list(items))
        if len(groups) == 1:
            release.wait(5)  # hold the first call so the others queue up behind it
        return [InputError(f"odd {i}") if i % 2 else i * 10 for i in items]

    async def scenario():
        batcher = MicroBatcher(handler, max_items=64)
        batcher.start()
        first = asyncio.create_task(batcher.submit(0))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(batcher.submit(i)) for i in range(1, 9)]
        await asyncio.sleep(0.05)
        release.set()
        answers = await asyncio.gather(first, *rest, return_exceptions=True)
        await batcher.stop()
        return answers

    answers = asyncio.run(scenario())
    assert groups == [[0], list(range(1, 9))]
    assert answers[0::2] == [0, 20, 40, 60, 80]
    assert [str(a) for a in answers[1::2]] == ["odd 1", "odd 3", "odd 5", "odd 7"]


def test_a_group_never_exceeds_its_size_limit() -> None:
    sizes: list[int] = []
    release = threading.Event()

    def handler(items):
        sizes.append(len(items))
        release.wait(5)
        return list(items)

    async def scenario():
        batcher = MicroBatcher(handler, max_items=4)
        batcher.start()
        tasks = [asyncio.create_task(batcher.submit(i)) for i in range(10)]
        await asyncio.sleep(0.05)
        release.set()
        answers = await asyncio.gather(*tasks)
        await batcher.stop()
        return answers

    assert asyncio.run(scenario()) == list(range(10))
    assert max(sizes) <= 4 and sum(sizes) == 10


def test_a_failing_call_fails_every_request_of_its_group_and_the_next_group_runs() -> None:
    calls = 0

    def handler(items):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        return list(items)

    async def scenario():
        batcher = MicroBatcher(handler)
        batcher.start()
        with pytest.raises(RuntimeError, match="database went away"):
            await batcher.submit(1)
        answer = await batcher.submit(2)
        await batcher.stop()
        return answer

    assert asyncio.run(scenario()) == 2


def test_submitting_to_a_stopped_batcher_is_an_error() -> None:
    async def scenario():
        await MicroBatcher(lambda items: items).submit(1)

    with pytest.raises(RuntimeError, match="not running"):
        asyncio.run(scenario())
