"""Uploads as stored things: rows, partial files, media, expiry, and when the rules are applied.

Why apart from the HTTP layer (server/uploads/tus_routes.py): the same operations
serve tus requests and server-side ingest (server/uploads/ingest.py), so the rules are
enforced in one place. Their verdicts (server/uploads/verdicts.py) come before any byte
is stored and again on the first 4096 bytes, with the same `core.restrictions.check`
the browser used, now with real content (a renamed .exe is refused here, and nothing
of it stays). A PATCH's body itself is received by server/uploads/receiving.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

from app.core.restrictions import Restrictions
from app.core.sniff import HEAD_SIZE, effective_type
from server.blobs.protocol import Blobs, StoredFile, media_key
from server.http.api_error import ApiError
from server.live.upload_locks import LocalUploadLock, UploadBusy, UploadLock
from server.store.queries import Store
from server.store.rows import UploadRow
from server.uploads.quotas import Quotas
from server.uploads.receiving import receive
from server.uploads.verdicts import beyond, judge_head, judge_start, same_creation

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class Thumbnailer(Protocol):
    """What makes thumbnails (server/media/thumbnails.py): told when a media file is complete and when it goes."""

    def schedule(self, u: UploadRow) -> None: ...

    async def forget(self, sha256: str) -> None: ...


class Uploads:
    """Owns the rules over partial uploads and media (bytes in `blobs`, one writer per upload by `locks`)
    and the in-process incremental hashers."""

    def __init__(self, store: Store, blobs: Blobs, restrictions: Restrictions, expiry: float,
                 quotas: Quotas | None = None, locks: UploadLock | None = None,
                 thumbnails: Thumbnailer | None = None) -> None:
        self.store, self.blobs, self.restrictions, self.expiry, self.quotas = store, blobs, restrictions, expiry, quotas
        self.thumbnails = thumbnails
        self.locks: UploadLock = locks or LocalUploadLock()
        self._active = 0                 # PATCH bodies being received right now
        self._terminating: set[str] = set()
        self.stopping = False            # set at shutdown: running PATCHes keep what they have and stop
        # upload id -> (bytes hashed so far, hasher); lost on restart, then we rehash from disk.
        self._hashers: dict[str, tuple[int, Any]] = {}

    def media(self, sha256: str) -> StoredFile:
        """A complete file's bytes, read on demand."""
        return StoredFile(self.blobs, media_key(sha256))

    # -- lookups and housekeeping -------------------------------------------
    def expires_at(self, u: UploadRow, *, unsent: bool = False) -> float | None:
        """Unix time after which an unsent upload is gone; None once a message uses it. Only a complete
        upload can be in a message, so an incomplete one (or one known `unsent`: completed by the PATCH
        answering now) costs no query."""
        sent = u.complete and not unsent and self.store.is_attached(u.id)
        return None if sent else u.touched_at + self.expiry

    def take_hasher(self, upload_id: str, start: int) -> Any:
        """The sha256 of bytes [0, start) if this process saw them all; None after a restart (rehash at the end)."""
        hashed = self._hashers.pop(upload_id, None)
        return hashed[1] if hashed and hashed[0] == start else (hashlib.sha256() if start == 0 else None)

    def terminating(self, upload_id: str) -> bool:
        return upload_id in self._terminating

    async def owned(self, upload_id: str, owner: str, *, holding: bool = False) -> UploadRow:
        """The owner's upload, else 404 (others' uploads do not exist for them); 410 once expired
        (unless another request holds it: `holding` says the holder is the caller)."""
        u = self.store.get_upload(upload_id) if _UPLOAD_ID.match(upload_id) else None
        if u is None or u.owner != owner:
            raise ApiError(404, "upload_not_found", f"Upload {upload_id} does not exist.",
                           "Start the upload again.")
        expires = self.expires_at(u)
        if expires is not None and time.time() > expires and (holding or not await self.locks.held(u.id)):
            await self.discard(u)
            raise ApiError(410, "upload_expired", f"The upload of {u.name} expired and was deleted.",
                           "Start the upload again.")
        return u

    async def reconcile(self, u: UploadRow, *, writing: bool = False) -> None:
        """Make the stored bytes and the recorded offset agree (after a crash, or another process's PATCH).

        What the store holds is the truth (blobs.reconcile: the folder trims a
        longer file, S3 counts its parts). An upload found whole is completed here.
        """
        if u.complete:
            return
        actual = await self.blobs.reconcile(u.id, u.offset, writing=writing)
        if actual != u.offset:
            self._hashers.pop(u.id, None)
            self.set_offset(u, actual)
        if u.offset == u.size:
            await self.complete(u, self.blobs.finish(u.id))

    async def discard(self, u: UploadRow) -> None:
        """Forget an unsent upload: its partial bytes, its row, and its media file if no other row shares it."""
        self.store.delete_upload(u.id)
        self._hashers.pop(u.id, None)
        self.locks.forget(u.id)          # a waiter holding the old lock finds no row and answers 404
        if self.quotas is not None and not u.complete:
            self.quotas.settle(u.id, u.offset)   # bytes never received no longer count against the day
        if u.sha256 is not None and not self.store.media_in_use(u.sha256):
            if self.thumbnails is not None:
                await self.thumbnails.forget(u.sha256)
            await self.blobs.delete(media_key(u.sha256))
        await self.blobs.drop(u.id)

    # -- operations ----------------------------------------------------------
    async def create(self, owner: str, name: str, size: int, declared: str, metered: bool = False,
                     creation_key: str | None = None) -> UploadRow:
        """A new upload at offset 0, once `judge_start` lets it begin and, when `metered`
        (a client's tus creation), the owner's quotas have room for it (else 429). A `creation_key`
        the owner sent before names the upload made then (a creation sent again), charged once."""
        info = judge_start(name, size, declared, self.restrictions)
        quotas = self.quotas if metered else None
        if quotas is not None:
            try:
                quotas.admit(owner, info.name, size)
            except ApiError:            # full: but a creation sent again counts already
                earlier = self.store.created_with(owner, creation_key) if creation_key else None
                if earlier is None:
                    raise
                return same_creation(earlier, info.name, size)
        u, new = self.store.create_upload_once(owner, info.name, size, declared, effective_type(info), creation_key)
        if not new:
            return same_creation(u, info.name, size)
        if quotas is not None:
            quotas.charge(u.id, owner, size)
        await self.blobs.begin(u.id)
        return u

    async def state(self, upload_id: str, owner: str) -> UploadRow:
        """Where to resume; while a PATCH runs, what is recorded (without waiting for it)."""
        u = await self.owned(upload_id, owner)
        if u.complete:
            return u
        try:
            async with self.locks.hold(u.id, wait=False):
                u = await self.owned(u.id, owner)
                await self.reconcile(u)
        except UploadBusy:
            pass
        return u

    async def append(self, upload_id: str, owner: str, offset: int, length: int | None,
                     chunks: AsyncIterator[bytes]) -> tuple[UploadRow, bool]:
        """Write `chunks` at `offset`; returns (upload, interrupted by shutdown). Raises ApiError to refuse."""
        async with self._held(upload_id, owner) as u:
            await self.reconcile(u, writing=True)
            if u.complete and offset == u.size:  # a retried final PATCH: nothing left to do
                async for chunk in chunks:
                    if chunk:
                        raise beyond(u)
                return u, False
            if offset != u.offset or u.complete:
                raise ApiError(409, "offset_mismatch", f"{u.name}: the server has {u.offset} bytes, not {offset}.",
                               "Ask for the upload's offset (HEAD) and continue from there.", offset=u.offset)
            if length is not None and offset + length > u.size:
                raise beyond(u)
            self._active += 1
            try:
                return await receive(self, u, chunks)
            finally:
                self._active -= 1

    @contextlib.asynccontextmanager
    async def _held(self, upload_id: str, owner: str) -> AsyncIterator[UploadRow]:
        """The owner's upload, held for writing. Held first and read once: the row then stays what it
        says until the end (read before, it needs a second read after the wait: a PATCH's one statement
        more). Held elsewhere: 404 still answers anyone who is not the owner."""
        if not _UPLOAD_ID.match(upload_id):
            await self.owned(upload_id, owner)            # 404
        try:
            async with self.locks.hold(upload_id):
                yield await self.owned(upload_id, owner, holding=True)
        except UploadBusy:
            await self.owned(upload_id, owner)
            raise
        except ApiError as e:
            if e.status == 404 and self.store.get_upload(upload_id) is None:
                self.locks.forget(upload_id)    # nothing kept for an id that names no upload (never one
            raise                               # that does: a waiter on its lock would then run beside a new one)

    async def terminate(self, upload_id: str, owner: str) -> None:
        """tus termination: a running PATCH stops at its next chunk, then everything of the upload goes."""
        u = await self.owned(upload_id, owner)
        if self.store.is_attached(u.id):
            raise ApiError(409, "upload_attached", f"{u.name} is attached to a sent message and stays.")
        self._terminating.add(u.id)
        try:
            async with self.locks.hold(u.id):
                u2 = self.store.get_upload(u.id)
                if u2 is not None:
                    await self.discard(u2)
        finally:
            self._terminating.discard(u.id)
            self.locks.forget(u.id)

    def set_offset(self, u: UploadRow, offset: int, hasher: Any = None, *, record: bool = True) -> None:
        """Record how far the stored bytes are good; the head verdict only counts once its bytes are there.
        Not `record`ed: the caller's next statement records it (a completion)."""
        u.offset = offset
        if offset < min(HEAD_SIZE, u.size):
            u.head_checked = False
        if hasher is not None and offset < u.size:
            self._hashers[u.id] = (offset, hasher)
        if record:
            self.store.update_upload(u)

    async def complete(self, u: UploadRow, moved: Awaitable[str]) -> None:
        """`moved` names the bytes by their sha256 in media/ (deduplicated); then the row says so.

        Media are stored before a row claims them; the sweeper only deletes media
        older than the expiry, so it never takes one a completion is claiming.
        A head never judged (its bytes could not be read back) is judged now.
        """
        try:
            digest = await moved
        except BaseException:
            with contextlib.suppress(ApiError):
                self.store.update_upload(u)     # the offset its bytes reached, if not yet recorded: kept for a retry
            raise
        if not u.head_checked:
            try:
                head = b"".join([c async for c in self.blobs.read(media_key(digest), 0, HEAD_SIZE)])
                judge_head(u, head, self.restrictions)
            except ApiError:
                await self.discard(u)
                if not self.store.media_in_use(digest):
                    await self.blobs.delete(media_key(digest))
                raise
        u.offset = u.size
        u.sha256 = digest
        self.store.update_upload(u)
        if self.thumbnails is not None:
            self.thumbnails.schedule(u)              # its thumbnail, in a worker thread
        self._hashers.pop(u.id, None)
        self.locks.forget(u.id)

    async def wait_idle(self, timeout: float) -> None:
        """At shutdown: let cancelled PATCHes record their offset before the database closes."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._active and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)

