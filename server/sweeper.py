"""Expiry: unsent uploads and the media only they used are deleted after `upload_expiry`.

Why: abandoned partial uploads, and complete ones no message ever used, would
otherwise fill the disk forever. The clock is each upload's last activity
(creation, every PATCH), so an upload in progress never expires under its
client. A file sent in a message is never swept: its row is excluded here,
and media files are shared by sha256, so one is deleted only when no
remaining upload row claims it. The sweep runs on the event loop, like every
other database statement, so it never interleaves with an upload completing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

from server.uploads import Uploads

log = logging.getLogger("attache.sweeper")
_PART = re.compile(r"^([0-9a-f]{32})\.part$")


@dataclass
class Swept:
    partial: int = 0     # unfinished uploads deleted
    complete: int = 0    # finished, never sent
    media: int = 0       # media files deleted (no upload left that uses them)
    orphans: int = 0     # files no row knows (left by a crash)


def default_interval(expiry: float) -> float:
    """Sweep ten times per grace period, at most hourly, at least every second."""
    return min(max(expiry / 10, 1.0), 3600.0)


def sweep(uploads: Uploads, now: float | None = None) -> Swept:
    now = time.time() if now is None else now
    before = now - uploads.expiry
    store, swept = uploads.store, Swept()
    for u in store.stale_uploads(before):
        if uploads.busy(u.id):              # a PATCH is running: it is not abandoned
            continue
        had_media = u.sha256 is not None and uploads.media_path(u.sha256).exists()
        uploads.discard(u)
        if u.complete:
            swept.complete += 1
            swept.media += had_media and not uploads.media_path(u.sha256).exists()
        else:
            swept.partial += 1
    known = store.upload_ids()
    for path in uploads.parts.iterdir():
        match = _PART.match(path.name)
        orphan = (match is None or match.group(1) not in known) if path.name.endswith((".part", ".tmp")) else False
        if orphan and _older(path, before):
            path.unlink(missing_ok=True)
            swept.orphans += 1
    for path in uploads.media.iterdir():
        if _older(path, before) and not store.media_in_use(path.name):
            path.unlink(missing_ok=True)
            swept.orphans += 1
    return swept


def _older(path, before: float) -> bool:
    try:
        return path.stat().st_mtime < before
    except FileNotFoundError:
        return False


async def run(uploads: Uploads, interval: float) -> None:
    """Sweep every `interval` seconds until cancelled; a failed sweep is logged and retried next time."""
    while True:
        await asyncio.sleep(interval)
        try:
            swept = sweep(uploads)
        except Exception:
            log.exception("upload sweep failed")
            continue
        if swept != Swept():
            log.info("swept %s", swept)
