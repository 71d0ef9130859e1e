"""Waiting for a state, never for a time: the one deadline loop of the tests, the benches and the service starters.

A fixed sleep is either too short on a busy machine or wasted on an idle one; asking again until the
state holds (or a generous deadline passes) is neither. A failure names what never happened.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(produce: Callable[[], T], done: Callable[[T], object], what: str, timeout: float = 20,
             every: float = 0.05, pause: Callable[[float], None] = time.sleep) -> T:
    """Call `produce()` until `done(value)` holds; that value. After `timeout` seconds: AssertionError
    "never happened: {what}" with the last value seen. `pause` lets a browser test keep its page's event
    loop running between tries (see `page_pause`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = produce()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within {timeout:g} s: {what} (last seen: {value!r})")
        pause(every)


def wait_until(condition: Callable[[], T], what: str, timeout: float = 20, every: float = 0.05,
               pause: Callable[[float], None] = time.sleep) -> T:
    """Call `condition()` until it returns something true; that value (see `wait_for`)."""
    return wait_for(condition, bool, what, timeout, every, pause)


async def wait_until_async(condition: Callable[[], T], what: str, timeout: float = 20, every: float = 0.02) -> T:
    """`wait_until` inside a running event loop: it runs between the tries."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within {timeout:g} s: {what} (last seen: {value!r})")
        await asyncio.sleep(every)
    return value


def page_pause(page) -> Callable[[float], None]:
    """A pause that lets a Playwright page run (its routes are served, its events fire) meanwhile."""
    return lambda seconds: page.wait_for_timeout(seconds * 1000)
