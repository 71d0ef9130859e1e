"""The doorbell that wakes an open event stream (server/live/broker.py).

Why these tests: a stream woken three loop turns after its message was
published (asyncio.wait_for over an Event) reached its listener seconds after
the sender's answer once a busy process's loop turns lasted a second each.
"""

from __future__ import annotations

import asyncio

from server.live.broker import Doorbell, LocalBroker
from tests.conftest import run_async


async def _woken_after_turns(bell: Doorbell) -> tuple[int, bool]:
    """Ring `bell` while a task waits on it; how many loop turns until the waiter has its answer."""
    answer: list[bool] = []

    async def waiter() -> None:
        answer.append(await bell.wait(30))

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)               # the waiter now waits
    bell.set()
    turns = 0
    while not answer:
        await asyncio.sleep(0)
        turns += 1
    await task
    return turns, answer[0]


def test_a_rung_doorbell_wakes_its_waiter_in_one_loop_turn() -> None:
    assert run_async(_woken_after_turns(Doorbell())) == (1, True)


def test_a_doorbell_rung_before_the_wait_answers_at_once_until_cleared() -> None:
    async def scenario() -> None:
        bell = Doorbell()
        bell.set()
        assert await bell.wait(30) and bell.is_set()
        bell.clear()
        assert not bell.is_set()
        assert await bell.wait(0.01) is False          # nobody rang: the timeout, no exception

    run_async(scenario())


def test_a_published_message_wakes_its_streams_in_one_turn_and_no_other() -> None:
    async def scenario() -> None:
        broker = LocalBroker()
        sea, lake = broker.subscribe(["sea"]), broker.subscribe(["lake"])
        woken = asyncio.create_task(sea.wake.wait(30))
        idle = asyncio.create_task(lake.wake.wait(0.05))
        await asyncio.sleep(0)
        broker.publish("sea", {"seq": 1})
        await asyncio.sleep(0)
        assert woken.done() and woken.result() is True and list(sea.items) == [{"seq": 1}]
        assert await idle is False and not lake.items

    run_async(scenario())
