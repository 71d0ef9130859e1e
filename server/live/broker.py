"""Who wakes an open event stream: the `Broker` Protocol and the in-process broker.

Why a doorbell and not the mail: the database is the truth and every message
carries a global, increasing seq, so a stream only needs to hear "something
new may be there" and then reads the rows after its last seq (as Synapse's
workers do). A subscriber therefore holds either the messages themselves
(`items`, when the publisher is in this process and its order is the commit
order) or `reload`: read the database from your last seq up to `last_seq()`.

`LocalBroker` is today's broker for one process: the sender's process is the
only writer, so it hands the message over directly. `server.live.redis_broker`
answers the same Protocol for several processes: every wake-up is a reload.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

QUEUE_LIMIT = 1000   # a subscriber further behind than this reloads from the database


class Doorbell:
    """An `asyncio.Event` for one waiter that wakes it in one turn of the event loop.

    Why: `asyncio.wait_for(event.wait(), t)` wakes its waiter three loop turns
    after `set()` (the inner task, its done-callback, the outer task). Under a
    burst of uploads one turn of a busy process's loop runs hundreds of ready
    callbacks and can last a second, so a message answered to its sender at
    once reached its listeners seconds later (bench/load.py). Awaiting a bare
    future takes one turn, as the sender's answer does.
    """

    def __init__(self) -> None:
        self._rung = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._rung = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def clear(self) -> None:
        self._rung = False

    def is_set(self) -> bool:
        return self._rung

    async def wait(self, timeout: float) -> bool:
        """Until rung or `timeout` seconds have passed; whether it was rung."""
        if not self._rung:
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout, _settle, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        return self._rung


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Subscriber:
    """One open stream's inbox over one or more conversations."""

    def __init__(self, cids: Iterable[str]) -> None:
        self.cids = tuple(dict.fromkeys(cids))
        self.items: deque[dict[str, Any]] = deque()
        self.wake = Doorbell()
        self.reload = False

    def push(self, message: dict[str, Any]) -> None:
        if len(self.items) >= QUEUE_LIMIT:
            self.ring()
        else:
            self.items.append(message)
            self.wake.set()

    def ring(self) -> None:
        """Something may be new in the database: read it from there."""
        self.items.clear()
        self.reload = True
        self.wake.set()


class Broker(Protocol):
    closed: bool

    def subscribe(self, cids: Iterable[str]) -> Subscriber: ...

    def unsubscribe(self, sub: Subscriber) -> None: ...

    def publish(self, cid: str, message: dict[str, Any]) -> None:
        """Called right after the message's commit, in commit order, without waiting."""

    def ring(self, cid: str, seq: int) -> None:
        """`cid` reached `seq` (committed; e.g. an update event): its streams read it from the database."""

    def close(self) -> None:
        """End every stream (server shutdown); clients reconnect to another server."""


class Subscriptions:
    """Conversation id -> its subscribers in this process (both brokers keep one)."""

    def __init__(self) -> None:
        self.by_cid: dict[str, set[Subscriber]] = {}
        self.closed = False

    def subscribe(self, cids: Iterable[str]) -> Subscriber:
        sub = Subscriber(cids)
        for cid in sub.cids:
            self.by_cid.setdefault(cid, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        for cid in sub.cids:
            subs = self.by_cid.get(cid)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.by_cid[cid]

    def of(self, cid: str) -> tuple[Subscriber, ...]:
        return tuple(self.by_cid.get(cid, ()))

    def ring_subscribers(self, cid: str) -> None:
        """Every stream of `cid` in this process reads the database from its last seq."""
        for sub in self.of(cid):
            sub.ring()

    def everyone(self) -> set[Subscriber]:
        return {sub for subs in self.by_cid.values() for sub in subs}

    def close(self) -> None:
        self.closed = True
        for sub in self.everyone():
            sub.wake.set()


class LocalBroker(Subscriptions):
    """One process: the publisher hands each message to the subscribers of its conversation."""

    def publish(self, cid: str, message: dict[str, Any]) -> None:
        for sub in self.of(cid):
            sub.push(message)

    def ring(self, cid: str, seq: int) -> None:
        self.ring_subscribers(cid)
