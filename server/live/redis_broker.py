"""The broker for several processes: Redis pub/sub as a doorbell, the database as the mail.

After a message is committed, its process rings its own subscribers and
publishes "conversation X reached seq N" on one channel; every other process
rings the subscribers of X, which then read the rows after their last seq
(server.conversations.events.read_after). Nothing depends on a publish arriving:

- a publish lost (the process killed between commit and send, Redis away for
  a moment) costs latency: every RESYNC seconds, when anything new was stored,
  every stream re-reads anyway;
- Redis lost while running: streams read the database every POLL second until
  the subscription is back (it retries by itself), then once more at once;
- a process killed: its clients reconnect elsewhere with `after=<seq>`.

Doorbells go out on a connection of their own, written as soon as the loop
gets to them, their replies read apart (`_send`): waiting for a batch's
replies, and for a pooled connection, before writing the next, kept a
doorbell in this process for several loop turns, each of which lasts a
tenth of a second or more under a burst of uploads (bench/load.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.config.broker_config import without_password
from server.live.broker import Subscriptions

CHANNEL = "attache:events"     # a cluster's: "attache:<cluster id>:events" (server.live.live_state)
RESYNC = 5.0        # seconds between re-reads (only when something new was stored) while Redis is there
POLL = 1.0          # ... while it is not
RECONNECT_MAX = 2.0
OUTBOX_LIMIT = 10_000   # doorbells waiting for Redis; beyond, they are dropped (the resync covers them)
LOST = (RedisError, OSError)
CONNECTIONS = 64        # per process, for commands (tickets, stream counts, upload locks; not doorbells)
COMMAND_WAIT = 3.0      # seconds a command waits for a free connection before it is a 503
log = logging.getLogger("attache.broker")


def client(url: str, *, listening: bool = False) -> aioredis.Redis:
    """Commands time out after a few seconds (a 503 beats a hung request); a listener waits forever but
    pings an idle connection, so a dead one is noticed.

    Commands share at most CONNECTIONS connections and wait (up to COMMAND_WAIT s) for a free one:
    redis-py's default pool refuses the 101st command in flight at once ("Too many connections"),
    which a burst of 200 uploads turned into 503s while Redis was fine (bench/load.py)."""
    options: dict[str, Any] = {"decode_responses": True, "socket_connect_timeout": 2,
                               "socket_timeout": None if listening else 3, "retry": Retry(NoBackoff(), 1),
                               "health_check_interval": 5 if listening else 0}
    if listening:
        return aioredis.Redis.from_url(url, **options)
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=CONNECTIONS, timeout=COMMAND_WAIT,
                                                    **options)
    return aioredis.Redis.from_pool(pool)


def unreachable_message(url: str, error: BaseException) -> str:
    return (f"cannot reach the broker (Redis) at {without_password(url)}: {str(error).rstrip('.')}. Start Redis "
            "there, or fix [broker] url in the config")


def check_reachable(url: str) -> str | None:
    """At start: None when Redis answers PING, else the sentence to print before exiting."""
    async def ping() -> None:
        c = client(url)
        try:
            await c.ping()
        finally:
            await c.aclose()
    try:
        asyncio.run(ping())
    except (*LOST, ValueError) as e:
        return unreachable_message(url, e)
    return None


class RedisBroker(Subscriptions):
    """Subscribers of this process, woken by doorbells from every process (itself included, directly)."""

    def __init__(self, url: str, newest: Callable[[], int], *, resync: float = RESYNC, poll: float = POLL,
                 channel: str = CHANNEL) -> None:
        super().__init__()
        self.url, self._newest, self.resync, self.poll, self.channel = url, newest, resync, poll, channel
        self.origin = secrets.token_hex(8)        # our own doorbells come back from Redis: not rung twice
        self.healthy = False
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._top: int | None = None

    async def start(self) -> None:
        """Subscribe (raises when Redis cannot be reached), then listen, publish and resync in the background."""
        listener = client(self.url, listening=True)
        pubsub = listener.pubsub()
        try:
            await pubsub.subscribe(self.channel)
        except BaseException:
            await pubsub.aclose()
            await listener.aclose()
            raise
        self.healthy = True
        self._tasks = [asyncio.create_task(self._listen(listener, pubsub)), asyncio.create_task(self._send()),
                       asyncio.create_task(self._resync())]

    async def stop(self) -> None:
        self.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def publish(self, cid: str, message: dict[str, Any]) -> None:
        self.ring(cid, message["seq"])

    def ring(self, cid: str, seq: int) -> None:
        self.ring_subscribers(cid)
        if self._outbox.qsize() < OUTBOX_LIMIT:
            self._outbox.put_nowait(f"{self.origin} {seq} {cid}")

    def ring_all(self) -> None:
        for sub in self.everyone():
            sub.ring()

    def _heard(self, data: str) -> None:
        origin, _, rest = data.partition(" ")
        cid = rest.partition(" ")[2]
        if origin != self.origin:
            self.ring_subscribers(cid)

    async def _listen(self, listener: aioredis.Redis, pubsub: Any) -> None:
        delay = 0.1
        try:
            while True:
                try:
                    if pubsub is None:
                        pubsub = listener.pubsub()
                        await pubsub.subscribe(self.channel)
                        log.warning("broker (Redis) at %s is back: live streams are woken by it again",
                                    without_password(self.url))
                        self.healthy, delay = True, 0.1
                        self.ring_all()           # what was stored while nobody listened
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message is not None and message.get("type") == "message":
                            self._heard(message["data"])
                except LOST as e:
                    if self.healthy:
                        log.warning("lost the broker (Redis) at %s (%s): open streams read the database every "
                                    "%g s until it is back", without_password(self.url), e, self.poll)
                    self.healthy = False
                with contextlib.suppress(*LOST):
                    await pubsub.aclose()
                pubsub = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)
        finally:
            with contextlib.suppress(*LOST):
                if pubsub is not None:
                    await pubsub.aclose()
                await listener.aclose()

    async def _send(self) -> None:
        """Write each batch of doorbells as soon as it comes, on a connection of its own; `_read_replies`
        takes the answers apart and ends the connection when one is COMMAND_WAIT s late (Redis gone)."""
        pool = aioredis.ConnectionPool.from_url(self.url, socket_connect_timeout=2, socket_timeout=None)
        delay, batch = 0.1, list[str]()
        while True:
            connection = pool.make_connection()
            owed: asyncio.Queue[int] = asyncio.Queue()       # doorbells written per batch, not yet answered
            replies: asyncio.Task[None] | None = None
            try:
                await connection.connect()
                replies = asyncio.create_task(_read_replies(connection, owed))
                while True:
                    if not batch:
                        batch = [await self._outbox.get()]
                    while not self._outbox.empty() and len(batch) < 500:
                        batch.append(self._outbox.get_nowait())
                    if replies.done():       # lost while we waited: the batch goes on the next connection
                        break
                    commands = [("PUBLISH", self.channel, item) for item in batch]
                    await connection.send_packed_command(connection.pack_commands(commands), check_health=False)
                    owed.put_nowait(len(batch))
                    batch, delay = [], 0.1
            except LOST:
                pass          # what was written may be lost: the others' resync reads what it announced
            finally:
                if replies is not None:
                    replies.cancel()
                with contextlib.suppress(*LOST):
                    await connection.disconnect()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def _resync(self) -> None:
        """Every RESYNC s (POLL s without Redis): when anything new was stored, every stream re-reads."""
        while True:
            await asyncio.sleep(self.resync if self.healthy else self.poll)
            top = self._newest()
            if top != self._top:
                self._top = top
                self.ring_all()


async def _read_replies(connection: Any, owed: asyncio.Queue[int]) -> None:
    """PUBLISH answers how many heard it: nobody needs that, but an answer COMMAND_WAIT s late means the
    connection is dead (a write into it would not say so). Ends when the connection is lost."""
    with contextlib.suppress(*LOST):
        while True:
            for _ in range(await owed.get()):
                await connection.read_response(timeout=COMMAND_WAIT)
