"""Doorbells between processes through a real redis-server (server/live/redis_broker.py), with the resync
turned off so that only a doorbell can wake a stream: they cross, and they cross again once Redis was lost
and is back (the publishing connection is its own and reconnects by itself)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from server.live.broker import Subscriber
from server.live.redis_broker import RedisBroker
from tests.conftest import run_async
from tests.services.redis import redis_service  # noqa: F401  (session fixture)
from tools.waiting import wait_until_async

NEVER = 3600.0      # seconds between resyncs: not within a test


async def heard(ring: Callable[[], None], sub: Subscriber, what: str, timeout: float = 20) -> None:
    """Ring until `sub` is woken (a doorbell published while the other side resubscribes is gone)."""
    deadline = time.monotonic() + timeout
    while True:
        sub.wake.clear()
        ring()
        if await sub.wake.wait(0.5):
            return
        assert time.monotonic() < deadline, f"never happened within {timeout:g} s: {what}"


async def two_processes(url: str) -> tuple[RedisBroker, RedisBroker]:
    a, b = (RedisBroker(url, lambda: 0, resync=NEVER, poll=NEVER) for _ in "ab")
    await a.start()
    await b.start()
    return a, b


def test_a_doorbell_rung_on_one_process_wakes_the_streams_of_its_conversation_on_the_other(redis_service):
    async def scenario() -> None:
        a, b = await two_processes(redis_service.url)
        try:
            here, there, other = a.subscribe(["c1"]), b.subscribe(["c1"]), b.subscribe(["c2"])
            a.ring("c1", 7)
            assert here.wake.is_set() and here.reload              # its own process: at once
            await wait_until_async(there.wake.is_set, "the other process's stream of c1 woken")
            assert there.reload and not other.wake.is_set()
            for n in range(8, 108):                                 # a burst: every one of them crosses
                a.ring(f"burst-{n}", n)
            subs = [b.subscribe([f"late-{n}"]) for n in range(20)]
            for n in range(len(subs)):
                a.ring(f"late-{n}", 200 + n)
            await wait_until_async(lambda: all(s.wake.is_set() for s in subs), "twenty doorbells after a burst of a hundred")
        finally:
            await a.stop()
            await b.stop()
    run_async(scenario())


def test_doorbells_cross_again_once_redis_is_back(redis_service):
    async def scenario() -> None:
        a, b = await two_processes(redis_service.url)
        try:
            there = b.subscribe(["c1"])
            await heard(lambda: a.ring("c1", 1), there, "a doorbell before Redis is lost")
            redis_service.stop()
            try:
                a.ring("c1", 2)                                    # into the void: the resync's business
                await wait_until_async(lambda: not b.healthy, "the listener noticing Redis is gone")
            finally:
                redis_service.start()
            await wait_until_async(lambda: b.healthy, "the listener subscribed again")
            await heard(lambda: a.ring("c1", 3), there, "a doorbell from the same publisher after Redis came back")
        finally:
            await a.stop()
            await b.stop()
    run_async(scenario())
