"""The live side's state, picked by the config: in this process, or shared through Redis (`[broker]`).

Why one place: the broker, the tickets and the stream counts must agree on
where they live (a ticket issued through Redis must be redeemable on any
process, a stream counted in Redis must be given back there), and `redis`
is imported only when a `[broker]` is configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from server.auth.tickets import TicketBook, Tickets
from server.live.broker import Broker, LocalBroker
from server.live.slots import LocalSlots, StreamSlots

if TYPE_CHECKING:
    import redis.asyncio as aioredis


@dataclass
class LiveState:
    broker: Broker
    tickets: TicketBook
    slots: StreamSlots
    start: Callable[[], Awaitable[None]] | None = None     # connects (raises when the service is unreachable)
    stop: Callable[[], Awaitable[None]] | None = None
    redis: aioredis.Redis | None = field(default=None, repr=False)  # the shared client (for the upload lock), if any
    prefix: str = ""                                         # the cluster's Redis keys begin with it


def live_state(broker_url: str | None, max_streams: int, newest: Callable[[], int],
               heartbeat: float | None = None, cluster: str = "") -> LiveState:
    """In-process without a broker URL; else Redis (nothing connects until `start`), every key and the
    channel named after `cluster` (the database's cluster id), so clusters sharing a Redis stay apart."""
    if broker_url is None:
        return LiveState(LocalBroker(), Tickets(), LocalSlots(max_streams))
    from server.live.redis_broker import LOST, RedisBroker, client, unreachable_message
    from server.live.redis_state import HEARTBEAT, PREFIX, RedisSlots, RedisTickets

    prefix = f"{PREFIX}{cluster}:" if cluster else PREFIX
    redis = client(broker_url)
    broker = RedisBroker(broker_url, newest, channel=f"{prefix}events")
    slots = RedisSlots(redis, max_streams, heartbeat or HEARTBEAT, prefix=prefix)
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        try:
            await broker.start()
        except LOST as e:
            raise RuntimeError(unreachable_message(broker_url, e)) from None
        tasks.append(asyncio.create_task(slots.keep_alive()))

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await broker.stop()
        await redis.aclose()

    return LiveState(broker, RedisTickets(redis, prefix=prefix), slots, start, stop, redis, prefix)
