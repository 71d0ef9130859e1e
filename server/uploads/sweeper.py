"""Expiry: unsent uploads and the media only they used are deleted after `upload_expiry`.

Why: abandoned partial uploads, and complete ones no message ever used, would
otherwise fill the disk forever. The clock is each upload's last activity
(creation, every PATCH), so an upload in progress never expires under its
client. A file sent in a message is never swept: its row is excluded here,
and media files are shared by sha256, so one is deleted only when no
remaining upload row claims it. Bytes a completion is storing are never taken:
only media stored before the expiry are considered, and an upload held by a
running request (its `UploadLock`) is left alone. A store that cannot be
reached fails the sweep, which is tried again next time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from server.blobs.protocol import StorageUnavailable, media_key
from server.uploads.service import Uploads

log = logging.getLogger("attache.sweeper")


@dataclass
class Swept:
    partial: int = 0     # unfinished uploads deleted
    complete: int = 0    # finished, never sent
    media: int = 0       # media files deleted (no upload left that uses them)
    orphans: int = 0     # files no unfinished upload owns (left by a crash)


def default_interval(expiry: float) -> float:
    """Sweep ten times per grace period, at most hourly, at least every second."""
    return min(max(expiry / 10, 1.0), 3600.0)


async def sweep(uploads: Uploads, now: float | None = None) -> Swept:
    now = time.time() if now is None else now
    before = now - uploads.expiry
    store, blobs, swept = uploads.store, uploads.blobs, Swept()
    for u in store.stale_uploads(before):
        if await uploads.locks.held(u.id):      # a PATCH is running: it is not abandoned
            continue
        media = None if u.sha256 is None else media_key(u.sha256)
        if media is not None and await blobs.size(media) is None:
            media = None                        # none stored under its name: nothing for it to free
        await uploads.discard(u)
        if u.complete:
            swept.complete += 1
            swept.media += media is not None and await blobs.size(media) is None
        else:
            swept.partial += 1
    unfinished = store.incomplete_upload_ids()
    for name in await blobs.stale_partials(before):
        if name not in unfinished:          # gone, or complete: what is left of its parts is nobody's
            await blobs.drop(name)
            swept.orphans += 1
    for sha in await blobs.stale_media(before):
        if not store.media_in_use(sha):
            await blobs.delete(media_key(sha))
            swept.orphans += 1
    return swept


async def sweep_at_start(uploads: Uploads) -> None:
    """Before the first request; a store lost since the start-up check only delays it to the next run."""
    try:
        await sweep(uploads)
    except StorageUnavailable as e:
        log.warning("upload sweep skipped: %s", e.message)


async def run(uploads: Uploads, interval: float) -> None:
    """Sweep every `interval` seconds until cancelled; a failed sweep is logged and retried next time."""
    while True:
        await asyncio.sleep(interval)
        try:
            swept = await sweep(uploads)
        except StorageUnavailable as e:
            log.warning("upload sweep skipped: %s", e.message)
            continue
        except Exception:
            log.exception("upload sweep failed")
            continue
        if swept != Swept():
            log.info("swept %s", swept)
