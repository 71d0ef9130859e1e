"""The byte pump: a PATCH body into the upload's `PartWriter`, judged and hashed as it passes.

Why this shape: the writer (blob_folder.py, blob_s3.py) stores batches in
worker threads while the event loop keeps receiving the next one, so a 200 MB
PATCH never sits in RAM; the sha256 of a whole upload is computed as its
bytes pass when this process saw them all, so completing needs no second read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.requests import ClientDisconnect, Request

from app.core.sniff import HEAD_SIZE
from server.blobs.protocol import StorageUnavailable
from server.http.api_error import ApiError

if TYPE_CHECKING:
    from server.store.queries import UploadRow
    from server.uploads.service import Uploads

DRAIN_LIMIT = 16 * 1024 * 1024    # read (and drop) at most this much of a refused body
DRAIN_IDLE = 2.0                  # ... and stop waiting for a client that sends nothing for this long


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
    uploads.store.touch_upload(u)
    sink = await uploads.blobs.writer(u.id, start, u.size, hasher)
    received, interrupted = 0, False
    try:
        if head_needed and len(head) >= head_needed:   # defensive: bytes stored but never judged
            uploads.judge(u, head)
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
                    uploads.judge(u, head)
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
    uploads.set_offset(u, start + sink.written, hasher)
    if u.offset == u.size:
        await uploads.complete(u, sink.complete(hasher.hexdigest() if hasher is not None else None))
    return u, interrupted and not u.complete


def beyond(u: UploadRow) -> ApiError:
    return ApiError(413, "exceeds_declared_size", f"{u.name}: more bytes were sent than the declared {u.size}.",
                    "Start a new upload with the right size.")


async def body(request: Request) -> AsyncIterator[bytes]:
    """The request body; a client that drops ends it early (the bytes that arrived are kept)."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        return


async def drain(request: Request) -> int:
    """Read a refused body (up to a limit) so the client sees our answer, not a reset; returns its size.

    A client that stalls mid-body is not waited for: it would wait for our answer forever, and we for it.
    """
    seen = 0
    stream = request.stream()
    try:
        while seen <= DRAIN_LIMIT:
            seen += len(await asyncio.wait_for(anext(stream), DRAIN_IDLE))
    except (StopAsyncIteration, ClientDisconnect, RuntimeError, asyncio.TimeoutError):
        pass                                   # RuntimeError: stream already consumed
    finally:
        await stream.aclose()
    return seen
