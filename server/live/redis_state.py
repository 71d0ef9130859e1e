"""What several processes share but is not history, held in Redis: tickets, stream counts, upload locks.

Why each shape:
- a ticket is a key with the ticket's TTL, redeemed with GETDEL, so it opens
  one stream once whichever process is asked; a sorted set per identity (and
  one for all) keeps the per-identity and overall bounds (server.auth.tickets);
- open streams are members of a sorted set per identity scored by when they
  lapse; the process holding a stream pushes that forward every HEARTBEAT, so
  the streams of a killed process stop counting within SLOT_TTL by themselves;
- an upload's lock is a key set with NX and a TTL its holder renews.
Scripts run atomically on Redis's own clock (TIME), so the processes' clocks
do not matter. Redis unreachable: ApiError 503 + Retry-After, never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
from collections.abc import AsyncIterator, Callable, Iterator

import redis.asyncio as aioredis

from server.auth.principals import Principal
from server.auth.tickets import MAX_TICKETS, PER_IDENTITY, TICKET_TTL, Grant, new_ticket
from server.http.api_error import ApiError
from server.live.redis_broker import LOST
from server.live.slots import too_many_streams

PREFIX = "attache:"          # a cluster's keys: PREFIX + its database's cluster id + ":" (`live_state`)
HEARTBEAT = 5.0              # seconds between refreshes of this process's open streams
RETRY_AFTER = "2"

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 "
# KEYS: ticket key, identity set, all set. ARGV: ticket, grant, ttl, per identity, overall, ticket prefix,
# identity prefix. Drops the identity's oldest beyond its bound, then the oldest of all beyond the overall one.
_ISSUE = _NOW + """
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - ttl)
local function drop(set, n)
  if n <= 0 then return end
  for _, m in ipairs(redis.call('ZRANGE', set, 0, n - 1)) do
    local v = redis.call('GETDEL', ARGV[6] .. m)
    if v then redis.call('ZREM', ARGV[7] .. cjson.decode(v).sub, m) end
    redis.call('ZREM', set, m)
    redis.call('ZREM', KEYS[3], m)
  end
end
drop(KEYS[2], redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4]) + 1)
drop(KEYS[3], redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5]) + 1)
redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('EXPIRE', KEYS[2], ttl + 1)
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('EXPIRE', KEYS[3], ttl + 1)
return 1
"""
# KEYS: ticket key, all set. ARGV: ticket, identity prefix.
_REDEEM = """
local v = redis.call('GETDEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if v then redis.call('ZREM', ARGV[2] .. cjson.decode(v).sub, ARGV[1]) end
return v
"""
# KEYS: the identity's streams. ARGV: member ('' = only count), limit, ttl. 1 = room (taken), 0 = full.
_TAKE = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
end
return 1
"""
# KEYS: identity sets; ARGV: ttl, then one member per key. Re-adds what a restarted Redis forgot.
_REFRESH = _NOW + """
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[i + 1])
  redis.call('EXPIRE', key, math.ceil(ttl) + 1)
end
return 1
"""
# KEYS: lock key. ARGV: token, ttl ms ('' = release).
_LOCK_KEEP = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""


def unavailable() -> ApiError:
    return ApiError(503, "broker_unavailable", "The service that shares live state between servers (Redis) "
                    "cannot be reached right now; nothing was lost.", "Try again in a few seconds.",
                    headers={"Retry-After": RETRY_AFTER})


@contextlib.contextmanager
def reachable() -> Iterator[None]:
    """Redis errors become 503 + Retry-After."""
    try:
        yield
    except LOST:
        raise unavailable() from None


def _grant_json(g: Grant) -> str:
    p = g.principal
    return json.dumps({"sub": p.sub, "name": p.name, "role": p.role, "grants": list(p.conversations),
                       "expires": p.expires, "conversations": list(g.conversations), "multi": g.multi})


def _grant(raw: str) -> Grant:
    d = json.loads(raw)
    return Grant(Principal(d["sub"], d["name"], d["role"], tuple(d["grants"]), d["expires"]),
                 tuple(d["conversations"]), d["multi"])


class RedisTickets:
    """server.auth.tickets.TicketBook, shared: issued on one process, redeemed once on any."""

    def __init__(self, redis: aioredis.Redis, ttl: int = TICKET_TTL, per_identity: int = PER_IDENTITY,
                 limit: int = MAX_TICKETS, prefix: str = PREFIX) -> None:
        self.ttl, self.per_identity, self.limit, self.prefix = ttl, per_identity, limit, prefix
        self._issue, self._redeem = redis.register_script(_ISSUE), redis.register_script(_REDEEM)

    async def issue(self, grant: Grant) -> str:
        ticket = new_ticket()
        p = self.prefix
        with reachable():
            await self._issue(keys=[f"{p}ticket:{ticket}", f"{p}tickets:{grant.principal.sub}", f"{p}tickets"],
                              args=[ticket, _grant_json(grant), self.ttl, self.per_identity, self.limit,
                                    f"{p}ticket:", f"{p}tickets:"])
        return ticket

    async def redeem(self, ticket: str) -> Grant | None:
        with reachable():
            raw = await self._redeem(keys=[f"{self.prefix}ticket:{ticket}", f"{self.prefix}tickets"],
                                     args=[ticket, f"{self.prefix}tickets:"])
        return None if raw is None else _grant(raw)


class RedisSlots:
    """server.live.slots.StreamSlots, shared: every process counts every process's open streams."""

    def __init__(self, redis: aioredis.Redis, limit: int, heartbeat: float = HEARTBEAT, prefix: str = PREFIX) -> None:
        self.limit, self.heartbeat, self.ttl, self.prefix = limit, heartbeat, heartbeat * 4, prefix
        self._redis = redis
        self._take, self._refresh = redis.register_script(_TAKE), redis.register_script(_REFRESH)
        self.mine: dict[str, str] = {}           # open stream id -> its identity's key, in this process

    def _key(self, principal: Principal) -> str:
        return f"{self.prefix}streams:{principal.sub}"

    async def check(self, principal: Principal) -> None:
        with reachable():
            room = await self._take(keys=[self._key(principal)], args=["", self.limit, self.ttl])
        if not room:
            raise too_many_streams(principal, self.limit)

    async def take(self, principal: Principal) -> object:
        stream_id = secrets.token_hex(12)
        with reachable():
            room = await self._take(keys=[self._key(principal)], args=[stream_id, self.limit, self.ttl])
        if not room:
            raise too_many_streams(principal, self.limit)
        self.mine[stream_id] = self._key(principal)
        return stream_id

    async def give_back(self, handle: object) -> None:
        key = self.mine.pop(str(handle), None)
        if key is not None:
            with contextlib.suppress(*LOST):                 # lost: it lapses by itself
                await self._redis.zrem(key, str(handle))

    async def keep_alive(self) -> None:
        """Runs for the process's life: pushes this process's streams' lapse forward."""
        while True:
            await asyncio.sleep(self.heartbeat)
            if self.mine:
                with contextlib.suppress(*LOST):
                    await self._refresh(keys=list(self.mine.values()), args=[self.ttl, *self.mine])


class RedisUploadLock:
    """The storage's UploadLock Protocol across processes: `hold(id)` waits for a holder in this process,
    and a holder elsewhere is `busy(id)` (423); Redis away is 503."""

    def __init__(self, redis: aioredis.Redis, busy: Callable[[str], Exception], ttl: float = 30.0,
                 prefix: str = PREFIX) -> None:
        self._redis, self._busy, self.ttl, self.prefix = redis, busy, ttl, prefix
        self._keep = redis.register_script(_LOCK_KEEP)
        self._local: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, upload_id: str, *, wait: bool = True) -> AsyncIterator[None]:
        lock = self._local.setdefault(upload_id, asyncio.Lock())
        if not wait and lock.locked():
            raise self._busy(upload_id)
        async with lock:
            key, token = f"{self.prefix}upload-lock:{upload_id}", secrets.token_hex(16)
            with reachable():
                taken = await self._redis.set(key, token, nx=True, px=math.ceil(self.ttl * 1000))
            if not taken:
                raise self._busy(upload_id)
            renewing = asyncio.create_task(self._renew(key, token))
            try:
                yield
            finally:
                renewing.cancel()
                with contextlib.suppress(*LOST):
                    await self._keep(keys=[key], args=[token, ""])

    async def _renew(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            with contextlib.suppress(*LOST):
                await self._keep(keys=[key], args=[token, math.ceil(self.ttl * 1000)])

    async def held(self, upload_id: str) -> bool:
        """True when unknown (Redis away): the sweeper then leaves the upload alone."""
        lock = self._local.get(upload_id)
        if lock is not None and lock.locked():
            return True
        try:
            return bool(await self._redis.exists(f"{self.prefix}upload-lock:{upload_id}"))
        except LOST:
            return True

    def forget(self, upload_id: str) -> None:
        self._local.pop(upload_id, None)
