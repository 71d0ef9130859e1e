"""A tus PATCH's body into the upload's storage, judged as it arrives (`receive`).

Why apart from server/uploads/service.py: this is the one long path of the upload
service (the bytes, the head's verdict on the way, and what is kept when a body
is cut off, refused or the store is lost); the service keeps the rows, the locks
and the rules around it.
"""
from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

from app.core.media import thumbnail_ok
from app.core.restrictions import Restrictions
from app.core.sniff import HEAD_SIZE
from server.blobs.protocol import Blobs, StorageUnavailable
from server.http.api_error import ApiError
from server.store.queries import Store
from server.store.rows import UploadRow
from server.uploads.verdicts import beyond, judge_head

RETOUCH_S = 60.0    # a PATCH records its start as activity unless the last was this recent (or 1 % of the expiry)


class Uploads(Protocol):
    """What a body's reception needs of the upload service (server.uploads.service.Uploads)."""

    store: Store
    blobs: Blobs
    restrictions: Restrictions
    expiry: float
    stopping: bool

    def take_hasher(self, upload_id: str, start: int) -> Any: ...

    def terminating(self, upload_id: str) -> bool: ...

    def set_offset(self, u: UploadRow, offset: int, hasher: Any = None, *, record: bool = True) -> None: ...

    async def discard(self, u: UploadRow) -> None: ...

    async def complete(self, u: UploadRow, moved: Awaitable[str]) -> None: ...


async def receive(uploads: Uploads, u: UploadRow, chunks: AsyncIterator[bytes]) -> tuple[UploadRow, bool]:
    """Append `chunks` to the upload at its offset; returns (upload, interrupted by shutdown).

    The first 4096 bytes are judged as soon as they are in (across PATCHes if
    need be); a refusal deletes the upload. More bytes than declared refuse
    only this request's bytes. Cancelled (shutdown), failing, or the store
    lost, the bytes that are stored are kept and the offset recorded, so the
    client resumes there.
    """
    start = u.offset
    hasher = uploads.take_hasher(u.id, start)
    head_needed = 0 if u.head_checked else min(HEAD_SIZE, u.size)
    head = await uploads.blobs.head(u.id, min(start, head_needed)) if head_needed else b""
    if len(head) < min(start, head_needed):
        head_needed = 0                 # the store cannot read them back: judged at completion instead
    if time.time() - u.touched_at >= min(RETOUCH_S, uploads.expiry / 100):
        uploads.store.touch_upload(u)     # activity: the expiry counts from now (its end updates it again)
    sink = await uploads.blobs.writer(u.id, start, u.size, hasher, thumbnailed=thumbnail_ok(u.content_type))
    received, interrupted = 0, False
    try:
        if head_needed and len(head) >= head_needed:   # defensive: bytes stored but never judged
            judge_head(u, head, uploads.restrictions)
            head_needed = 0
        async for chunk in chunks:
            if uploads.terminating(u.id):
                raise ApiError(404, "upload_not_found", f"The upload of {u.name} was terminated.")
            if uploads.stopping:
                interrupted = True
                break
            received += len(chunk)
            if start + received > u.size:
                raise beyond(u)
            if head_needed and len(head) < head_needed:
                head += chunk[: head_needed - len(head)]
                if len(head) >= head_needed:
                    judge_head(u, head, uploads.restrictions)
                    head_needed = 0
            await sink.add(chunk)
        await sink.flush()
    except StorageUnavailable:
        await sink.salvage()
        uploads.set_offset(u, start + sink.written)
        raise
    except ApiError as e:
        await sink.discard()
        if e.code == "exceeds_declared_size":     # refuse this request's bytes, keep the upload
            uploads.set_offset(u, await uploads.blobs.reconcile(u.id, start))
        else:
            await uploads.discard(u)              # refused content or terminated: nothing of it stays
        raise
    except BaseException:                         # cancelled at shutdown, or a disk error
        await sink.salvage()
        uploads.set_offset(u, start + sink.written)
        raise
    whole = start + sink.written == u.size       # then completion records the offset with the digest
    uploads.set_offset(u, start + sink.written, hasher, record=not whole)
    if whole:
        await uploads.complete(u, sink.complete(hasher.hexdigest() if hasher is not None else None))
    return u, interrupted and not u.complete
