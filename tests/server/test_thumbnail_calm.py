"""Thumbnails wait for a calm loop (server/media/calm.py): made after a burst, not beside its sends."""
from __future__ import annotations

import asyncio
import time

from app.core.restrictions import Restrictions
from server.blobs.folder import FolderBlobs
from server.media.calm import Lateness, LoopCalm
from server.media.thumbnails import Thumbnails
from server.store.queries import Store
from server.uploads.ingest import ingest
from server.uploads.service import Uploads
from tests.conftest import run_async
from tests.files import png_bytes


def test_one_late_tick_holds_the_calm_for_its_whole_length():
    lateness = Lateness(late=0.03, calm=1.0)
    assert lateness.calm(0.0)                                  # never late: calm from the start
    lateness.ticked(10.0, 0.01)
    assert lateness.calm(10.0)                                 # on time (within `late`)
    lateness.ticked(10.05, 0.2)                                # a turn of 0.2 s
    assert not lateness.calm(10.05) and not lateness.calm(11.0)
    lateness.ticked(11.0, 0.0)                                 # on time again, but not for long enough
    assert not lateness.calm(11.04)
    assert lateness.calm(11.05)


async def busy(seconds: float) -> None:
    """A burst: the loop's turns take 0.15 s each (callbacks that hold it), for `seconds`."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        time.sleep(0.15)
        await asyncio.sleep(0)


def test_a_waiter_goes_at_once_on_a_quiet_loop_and_after_a_burst_on_a_busy_one():
    async def go():
        calm = LoopCalm(Lateness(late=0.1, calm=0.5), at_most=60)
        await asyncio.wait_for(calm.wait("quiet"), timeout=5)                # nothing to wait for
        burst = asyncio.ensure_future(busy(2.0))
        await asyncio.sleep(0.2)                                            # the ticks saw it
        held = asyncio.ensure_future(calm.wait("photo"))
        await burst
        during = held.done()
        await asyncio.wait_for(held, timeout=20)                            # then calm comes
        calm.close()
        return during
    assert run_async(go()) is False


def test_under_a_burst_that_never_ends_a_waiter_goes_after_at_most_and_one_let_through_at_once():
    async def go():
        calm = LoopCalm(Lateness(late=0.1, calm=0.5), at_most=60)
        bounded_calm = LoopCalm(Lateness(late=0.1, calm=0.5), at_most=0.5)
        await calm.wait("first")
        await bounded_calm.wait("first")
        burst = asyncio.ensure_future(busy(60))
        await asyncio.sleep(0.5)
        bounded = asyncio.ensure_future(bounded_calm.wait("bounded"))
        wanted = asyncio.ensure_future(calm.wait("wanted"))
        await asyncio.sleep(0.1)
        calm.let_through("wanted")
        await asyncio.wait_for(wanted, timeout=20)
        await asyncio.wait_for(bounded, timeout=20)
        still_busy = not burst.done()
        burst.cancel()
        calm.close()
        bounded_calm.close()
        return still_busy
    assert run_async(go()) is True


def test_a_photo_uploaded_during_a_burst_gets_its_thumbnail_after_it_unless_a_send_waits(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    made = Thumbnails(store, FolderBlobs(tmp_path), calm=LoopCalm(Lateness(late=0.1, calm=0.5), at_most=60))
    uploads = Uploads(store, FolderBlobs(tmp_path), Restrictions(accepted_types=("image/*",)), expiry=3600,
                      thumbnails=made)

    async def go():
        async def made_within(photo, seconds: float) -> bool:
            deadline = asyncio.get_running_loop().time() + seconds
            while not store.has_thumbnail(photo.sha256) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            return store.has_thumbnail(photo.sha256)

        first = await ingest(uploads, "x", "a.png", "image/png", png_bytes(40, 30))
        quiet = await made_within(first, 20)                     # a quiet loop: made at once
        burst = asyncio.ensure_future(busy(4.0))
        await asyncio.sleep(0.2)
        photo = await ingest(uploads, "x", "b.png", "image/png", png_bytes(50, 30))
        held = not await made_within(photo, 1.0)                 # long enough to make it, were it not held
        await burst
        after = await made_within(photo, 20)

        burst = asyncio.ensure_future(busy(60))                   # a bridged message waits for its photo:
        await asyncio.sleep(0.2)
        bridged = await ingest(uploads, "twilio", "c.png", "image/png", png_bytes(60, 30))
        await made.wait([bridged], timeout=10)                    # made during the burst (calm: 60 s)
        urgent = store.has_thumbnail(bridged.sha256) and not burst.done()
        burst.cancel()
        await made.close()
        return quiet, held, after, urgent
    assert run_async(go()) == (True, True, True, True)
    store.close()
