"""Thumbnails of image attachments, made on the server with Pillow when an upload completes.

Why on the server: the history then loads a few kB per photo instead of the
original (often megabytes), and the page knows each thumbnail's size before
it loads, so nothing moves when it arrives. Why in a few worker threads (one
per core, at most four): decoding is CPU-bound and a 50-megapixel photo takes a
while; the event loop never waits for it, Pillow releases the GIL so a burst of
photos uses every core, and the few workers bound the memory a burst can take.
Why paranoid: an image is untrusted input to a C decoder. Only the
formats we show as thumbnails are opened, anything over MAX_PIXELS is refused
before it is decoded (a decompression bomb), and any failure — truncated,
corrupt, a bomb — is recorded as "no thumbnail" (0 x 0): the file itself stays
and the page shows it as a file card. Thumbnails are named by the original's
sha256, like media files, and go when the media file goes.

Why a message does not wait for its thumbnails: under a burst of photos the
cores are busy making them, and a send that waited queued behind all of
them (seconds). A message is stored and shown at once, its photo marked
`thumbnail_pending`; when the thumbnail is recorded, every message showing
that file gets an update event in the database (Store.record_thumbnail), and
`announce` rings its conversation's streams, on every process. And a thumbnail
waits for a calm moment before it is made (server/media/calm.py): during a
burst it comes after the burst, not beside the sends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageOps

from app.core.media import thumbnail_ok
from server.blobs.protocol import Blobs, StorageUnavailable, media_key, thumbnail_key
from server.media.calm import LoopCalm

if TYPE_CHECKING:
    from server.store.queries import Store
    from server.store.rows import UploadRow

log = logging.getLogger("attache.thumbnails")

MAX_SIDE = 480                 # px, the longer side (twice what the page shows, for dense screens)
MAX_PIXELS = 50_000_000        # a larger image is not decoded at all (50 MP: a phone photo fits)
QUALITY = 80
WEBP_METHOD = 2                # encoder effort 0-6: 2 is ~1.5x faster than 4 for ~2 % more bytes (measured)
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "AVIF")   # what core.media.thumbnail_ok lets through
SEND_WAIT = 15.0               # s a bridged Twilio message waits for its attachments' thumbnails
ELSEWHERE_WAIT = 3.0           # s it waits for one that another process is making, before making it here
ORPHAN_WAIT = 20.0             # s after a send, a thumbnail still missing (its process stopped) is made here
ELSEWHERE_POLL = 0.05          # s between looks at the shared database meanwhile
WORKERS = min(4, os.cpu_count() or 1)   # images decoded at once (Pillow releases the GIL while it works)
NICENESS = 10                  # the workers yield the cores to the event loop (Linux: nice is per thread)
Image.MAX_IMAGE_PIXELS = MAX_PIXELS   # Pillow's own guard: DecompressionBombError beyond twice this
warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # between once and twice: `make` refuses it


class ImageRefused(Exception):
    """The image is not decoded: too many pixels."""


def make(src: Path, dst: Path) -> tuple[int, int]:
    """Write a WebP of at most MAX_SIDE px on its longer side; return its size. Raises on any bad image."""
    with Image.open(src, formats=FORMATS) as im:      # reads the header only; no other decoder is tried
        width, height = im.size
        if width * height > MAX_PIXELS or width < 1 or height < 1:
            raise ImageRefused(f"{width} x {height} pixels")
        im.draft("RGB", (MAX_SIDE, MAX_SIDE))          # JPEG: decode at 1/2..1/8 scale, much faster
        im.seek(0)                                     # animated: the first frame
        small = ImageOps.exif_transpose(im)            # phone photos are stored sideways
        small.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
        alpha = small.mode in ("RGBA", "LA", "PA") or "transparency" in small.info
        small = small.convert("RGBA" if alpha else "RGB")
        tmp = dst.with_name(f"{dst.name}.{uuid.uuid4().hex}.tmp")
        try:
            small.save(tmp, "WEBP", quality=QUALITY, method=WEBP_METHOD)
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
        return small.size


def make_safely(src: Path, dst: Path) -> tuple[int, int]:
    """`make`, or (0, 0) when the image is bad or hostile: this never raises, so no image crashes anything."""
    try:
        return make(src, dst)
    except (ImageRefused, Image.DecompressionBombError) as exc:
        log.warning("no thumbnail for %s: refused, too large (%s)", src.name, exc)
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:   # truncated, corrupt, unknown
        log.warning("no thumbnail for %s: %s: %s", src.name, type(exc).__name__, exc)
    except Exception:   # a decoder bug is still only a missing thumbnail
        log.exception("no thumbnail for %s", src.name)
    return 0, 0


def yield_to_requests() -> None:
    """In a worker thread: a lower priority than the event loop's, so a burst of photos delays their
    thumbnails, not the requests (sends, streams) that compete for the same cores. Linux only."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
    except (AttributeError, OSError) as e:       # another OS, or not allowed: the same as before
        log.info("thumbnail workers keep their priority: %s", e)


class Thumbnails:
    """Schedules, records and forgets thumbnails; every method runs on the event loop's thread."""

    def __init__(self, store: Store, blobs: Blobs,
                 announce: Callable[[str, int], None] = lambda cid, seq: None, calm: LoopCalm | None = None) -> None:
        """`announce(conversation, seq)`: the broker's `ring`, once an update event is stored;
        `calm`: when a thumbnail may be made (by default: server/media/calm.py's)."""
        self.store, self.blobs, self.announce = store, blobs, announce
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="thumbnails",
                                        initializer=yield_to_requests)
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._calm = calm or LoopCalm()
        self._urgent: set[str] = set()        # pending ones a send waits for: they skip the calm

    def schedule(self, u: UploadRow) -> None:
        """A complete upload: make its thumbnail in the worker (once per sha256) if it is a raster image."""
        sha = u.sha256
        if sha is None or not thumbnail_ok(u.content_type) or sha in self._pending or self._known(sha):
            return
        future = asyncio.ensure_future(self._make(sha))
        self._pending[sha] = future
        future.add_done_callback(lambda f: self._record(sha, f))   # runs before any waiter resumes

    async def _make(self, sha: str) -> tuple[int, int]:
        """After a calm moment: the original from the store, the WebP made in the worker, then stored beside it."""
        if sha not in self._urgent:
            await self._calm.wait(sha)
        out = self.blobs.scratch("thumbnails")
        try:
            async with self.blobs.local(media_key(sha)) as src:
                size = await asyncio.get_running_loop().run_in_executor(self._pool, make_safely, src, out)
            if size != (0, 0):
                await self.blobs.put_file(thumbnail_key(sha), out)
            return size
        except StorageUnavailable as e:
            log.warning("no thumbnail for %s yet: %s", sha, e.message)   # made again by the next backfill
            raise
        finally:
            out.unlink(missing_ok=True)

    def watch(self, uploads: list[UploadRow]) -> None:
        """Sent with thumbnails still to come: any that another process was making and has not
        recorded within ORPHAN_WAIT (that process stopped, say) is made here."""
        elsewhere = [u for u in uploads if u.thumbnail_pending and u.sha256 not in self._pending]
        if elsewhere:
            asyncio.get_running_loop().call_later(ORPHAN_WAIT, self._adopt, elsewhere)

    def _adopt(self, uploads: list[UploadRow]) -> None:
        try:
            for u in uploads:
                if u.sha256 is not None and u.sha256 not in self._pending and not self._known(u.sha256):
                    self.schedule(u)
        except Exception as e:      # the database away: the backfill at the next start makes them
            log.warning("thumbnails not checked after a send: %s", e)

    async def wait(self, uploads: list[UploadRow], timeout: float = SEND_WAIT) -> None:
        """Until the thumbnails of `uploads` are made (or `timeout`): a message then carries them.

        With several processes the upload may have completed on another one, which is making the
        thumbnail: its row appears in the shared database. Should it not appear within
        ELSEWHERE_WAIT (that process stopped, say), this process makes it itself."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        missing = [u for u in uploads if u.sha256 is not None and u.sha256 not in self._pending
                   and thumbnail_ok(u.content_type) and not self._known(u.sha256)]
        elsewhere = min(deadline, loop.time() + ELSEWHERE_WAIT)
        while missing and loop.time() < elsewhere:
            await asyncio.sleep(ELSEWHERE_POLL)
            missing = [u for u in missing if u.sha256 is not None and not self._known(u.sha256)]
        for u in missing:
            self.schedule(u)
        waited = [u.sha256 for u in uploads if u.sha256 in self._pending]
        for sha in waited:                             # someone waits for it: made now, calm or not
            self._urgent.add(sha)
            self._calm.let_through(sha)
        futures = [self._pending[sha] for sha in waited]
        if futures:
            await asyncio.wait(futures, timeout=max(0.0, deadline - loop.time()))

    async def forget(self, sha256: str) -> None:
        """The media file is gone: so is its thumbnail."""
        self.store.forget_thumbnail(sha256)
        await self.blobs.delete(thumbnail_key(sha256))

    async def backfill(self) -> None:
        """Images stored before thumbnails existed (or while the server stopped mid-way) get theirs now."""
        for u in self.store.uploads_without_thumbnail():
            self.schedule(u)
            if u.sha256 in self._pending:
                await asyncio.wait([self._pending[u.sha256]])   # one at a time: the loop stays free for requests

    async def close(self, timeout: float = 2.0) -> None:
        """At shutdown: let a thumbnail being made finish and be recorded (briefly), drop the queue
        and those waiting for calm (the next start's backfill makes them)."""
        for sha in self._calm.waiting():
            self._pending[sha].cancel()   # a waiter is always a pending one
        self._calm.close()
        if self._pending:
            await asyncio.wait(list(self._pending.values()), timeout=timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _known(self, sha256: str) -> bool:
        return self.store.has_thumbnail(sha256)

    def _record(self, sha256: str, future: asyncio.Future[Any]) -> None:
        self._pending.pop(sha256, None)
        self._urgent.discard(sha256)
        if future.cancelled() or future.exception() is not None:
            return
        width, height = future.result()
        if not self.store.media_in_use(sha256):      # discarded while it was being made
            asyncio.ensure_future(self.blobs.delete(thumbnail_key(sha256))).add_done_callback(_quiet)
            return
        for cid, seq in self.store.record_thumbnail(sha256, width, height):
            self.announce(cid, seq)


def _quiet(future: asyncio.Future[Any]) -> None:
    """A thumbnail that could not be deleted is an orphan of a few kB: logged, never raised."""
    if not future.cancelled() and future.exception() is not None:
        log.warning("thumbnail not deleted: %s", future.exception())

