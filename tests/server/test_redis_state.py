"""What processes share through Redis, against a real redis-server: tickets (once, bounded per identity and
overall), stream counts that lapse when their process is gone, upload locks, and 503 when Redis is away.
Each "process" is its own client here; tests/server/test_cluster_events.py runs two real servers."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from server.auth.principals import Principal
from server.auth.tickets import Grant
from server.http.api_error import ApiError
from server.live.live_state import live_state
from server.live.redis_broker import client
from server.live.redis_state import RedisSlots, RedisTickets, RedisUploadLock
from tests.conftest import run_async
from tools.services.process import free_port
from tests.services.redis import redis_service  # noqa: F401  (session fixture)


class Busy(ApiError):
    def __init__(self, upload_id: str) -> None:
        super().__init__(423, "upload_locked", upload_id)


def principal(sub: str) -> Principal:
    return Principal(sub, sub.title(), "agent", ("*",), 4_000_000_000.0)


@pytest.fixture
def run(redis_service):
    """Run a coroutine with two fresh clients on the session's Redis (two processes), under its own prefix."""
    def go(test):
        async def main():
            one, two = client(redis_service.url), client(redis_service.url)
            try:
                return await test(one, two, secrets.token_hex(4))
            finally:
                await one.aclose()
                await two.aclose()
        return run_async(main())
    return go


def test_a_ticket_is_redeemed_once_by_whichever_process(run):
    async def test(one, two, tag):
        grant = Grant(principal(f"u-{tag}"), ("c1", "c2"), multi=True)
        ticket = await RedisTickets(one).issue(grant)
        assert await RedisTickets(two).redeem(ticket) == grant
        assert await RedisTickets(one).redeem(ticket) is None
        assert await RedisTickets(two).redeem("never-issued") is None
    run(test)


def test_tickets_are_bounded_per_identity_and_overall(run):
    async def test(one, two, tag):
        await one.delete("attache:tickets")
        small = RedisTickets(one, per_identity=3, limit=8)
        grant = lambda sub: Grant(principal(f"{sub}-{tag}"), ("c1",))   # noqa: E731
        first = {sub: await small.issue(grant(sub)) for sub in "abc"}
        mine = [await small.issue(grant("a")) for _ in range(3)]        # a's own first goes
        assert await small.redeem(first["a"]) is None
        assert await small.redeem(first["b"]) == grant("b")
        assert await one.zcard(f"attache:tickets:a-{tag}") == 3
        for sub in "defgh":
            await small.issue(grant(sub))                               # 9 would pass the overall 8
        assert await one.zcard("attache:tickets") == 8
        assert await small.redeem(first["c"]) is None                   # the oldest of all went
        assert await small.redeem(mine[-1]) == grant("a")
    run(test)


def test_stream_counts_are_shared_and_lapse_without_their_process(run):
    async def test(one, two, tag):
        ann = principal(f"u-{tag}")
        here, there = RedisSlots(one, 2, heartbeat=0.2), RedisSlots(two, 2, heartbeat=0.2)
        kept = asyncio.create_task(here.keep_alive())
        try:
            await here.take(ann)
            await there.take(ann)                                       # `there` dies: nobody refreshes it
            with pytest.raises(ApiError) as full:
                await here.check(ann)
            assert full.value.status == 429 and full.value.headers["Retry-After"].isdigit()
            for _ in range(50):                                        # its lapse: 4 heartbeats
                try:
                    await here.check(ann)
                    break
                except ApiError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the dead process's stream still counts")
            await here.take(ann)                                        # the living one still counts
            with pytest.raises(ApiError):
                await there.take(ann)
        finally:
            kept.cancel()
    run(test)


def test_an_upload_is_written_by_one_process_at_a_time(run):
    async def test(one, two, tag):
        upload = f"up-{tag}"
        here, there = RedisUploadLock(one, Busy, ttl=0.6), RedisUploadLock(two, Busy, ttl=0.6)
        async with here.hold(upload):
            await asyncio.sleep(1.0)                                    # past the ttl: renewed while held
            with pytest.raises(Busy):
                async with there.hold(upload):
                    pass
            assert await there.held(upload) and await here.held(upload)
            with pytest.raises(Busy):
                async with here.hold(upload, wait=False):
                    pass
        assert not await there.held(upload)
        async with there.hold(upload):
            assert await here.held(upload)
    run(test)


def test_a_burst_of_uploads_in_one_process_waits_for_redis_connections_rather_than_a_503(run):
    """300 PATCHes at once in one process: each takes its upload's lock (one Redis command each) while
    the others hold theirs; a pool that refused commands past its size answered them 503."""
    async def test(one, _two, tag):
        locks = RedisUploadLock(one, Busy)
        holding, all_hold, release = [0], asyncio.Event(), asyncio.Event()

        async def patch(n: int) -> None:
            async with locks.hold(f"burst-{tag}-{n}"):
                holding[0] += 1
                if holding[0] == 300:
                    all_hold.set()
                await release.wait()

        patches = [asyncio.create_task(patch(n)) for n in range(300)]
        everyone = asyncio.create_task(all_hold.wait())
        await asyncio.wait([everyone, *patches], return_when=asyncio.FIRST_COMPLETED)   # all in, or one refused
        release.set()
        await asyncio.gather(*patches)        # raises the 503 (ApiError) if any lock was refused
        assert everyone.done()
    run(test)


def test_redis_away_is_503_with_retry_after():
    async def test():
        away = client(f"redis://127.0.0.1:{free_port()}/0")
        try:
            for call in (RedisTickets(away).issue(Grant(principal("u"), ("c1",))), RedisTickets(away).redeem("t"),
                         RedisSlots(away, 2).take(principal("u"))):
                with pytest.raises(ApiError) as refused:
                    await call
                assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "2"
            assert await RedisUploadLock(away, Busy).held("u1")               # unknown: the sweeper waits
        finally:
            await away.aclose()
    run_async(test())


def test_a_server_started_without_its_broker_says_which_and_where():
    """The lifespan's own check (python -m server checks before it, tests/server/test_cluster_events.py)."""
    port = free_port()
    live = live_state(f"redis://:s3cret@127.0.0.1:{port}/0", 2, lambda: 0)
    with pytest.raises(RuntimeError) as refused:
        run_async(live.start())
    assert str(refused.value).startswith(f"cannot reach the broker (Redis) at redis://127.0.0.1:{port}/0: ")
    assert "s3cret" not in str(refused.value)
