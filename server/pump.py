"""The byte pump: request bytes to a file in batches written (and hashed) in a worker thread.

Why this shape: bytes go from the request to the partial file in ~4 MiB
batches handed to a worker thread while the event loop keeps receiving the
next batch, so a 200 MB PATCH costs a few dozen thread hops, never 200 MB of
RAM, and no per-byte Python work; the sha256 of a whole upload is computed as
its bytes pass, so completing it needs no second read of the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request

from app.core.sniff import HEAD_SIZE
from server.common import ApiError

if TYPE_CHECKING:
    from server.store import UploadRow
    from server.uploads import Uploads

FLUSH_BYTES = 4 * 1024 * 1024     # batch size handed to the writer thread
DRAIN_LIMIT = 16 * 1024 * 1024    # read (and drop) at most this much of a refused body
DRAIN_IDLE = 2.0                  # ... and stop waiting for a client that sends nothing for this long


class Sink:
    """Appends to `path` from `start`; `written` counts the bytes safely in the file."""

    def __init__(self, path: Path, start: int, hasher: Any = None) -> None:
        self._f = open(path, "r+b")
        self._f.seek(start)
        self.hasher = hasher
        self.written = 0                 # updated by the writer thread, read after `flush`/`settle`
        self._batch: list[bytes] = []
        self._batch_len = 0
        self._pending: asyncio.Future[None] | None = None

    def _write(self, chunks: list[bytes]) -> None:
        if self.hasher is not None:
            for c in chunks:
                self.hasher.update(c)    # hashlib releases the GIL for big buffers
        self._f.writelines(chunks)
        self._f.flush()
        self.written += sum(map(len, chunks))

    async def add(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._batch_len += len(chunk)
        if self._batch_len >= FLUSH_BYTES:
            await self._submit()

    async def _submit(self) -> None:
        if self._pending is not None:
            await asyncio.shield(self._pending)   # a cancel must not orphan a running write
        batch, self._batch, self._batch_len = self._batch, [], 0
        self._pending = asyncio.get_running_loop().run_in_executor(None, self._write, batch)

    async def flush(self) -> None:
        """Everything added is in the file (raises the writer's error, if any)."""
        await self._submit()
        assert self._pending is not None
        await asyncio.shield(self._pending)

    async def settle(self) -> None:
        """Wait for an in-flight write to finish, whatever its outcome (after a refusal)."""
        if self._pending is not None:
            await asyncio.wait([self._pending])

    async def salvage(self) -> None:
        """Cancelled (shutdown) or failed: keep what already arrived when the disk allows."""
        await self.settle()
        pending_ok = self._pending is None or (not self._pending.cancelled() and self._pending.exception() is None)
        if self._batch and pending_ok:
            with contextlib.suppress(OSError):
                self._write(self._batch)     # < FLUSH_BYTES: cheap enough on the loop
        self._batch = []

    def close(self) -> None:
        self._f.close()


async def receive(uploads: Uploads, u: UploadRow, chunks: AsyncIterator[bytes]) -> tuple[UploadRow, bool]:
    """Append `chunks` to the upload at its offset; returns (upload, interrupted by shutdown).

    The first 4096 bytes are judged as soon as they are in (across PATCHes if
    need be); a refusal deletes the upload. More bytes than declared refuse
    only this request's bytes. Cancelled (shutdown) or failing, the bytes that
    arrived are kept and the offset recorded, so the client resumes there.
    """
    start = u.offset
    hasher = uploads.take_hasher(u.id, start)
    part = uploads.part_path(u.id)
    head_needed = 0 if u.head_checked else min(HEAD_SIZE, u.size)
    head = read_prefix(part, min(start, head_needed)) if head_needed else b""
    uploads.store.touch_upload(u)
    sink = Sink(part, start, hasher)
    received, interrupted = 0, False
    try:
        if head_needed and len(head) >= head_needed:   # defensive: bytes on disk never judged
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
    except ApiError as e:
        await sink.settle()
        sink.close()
        if e.code == "exceeds_declared_size":
            os.truncate(part, start)      # refuse this request's bytes, keep the upload
        else:
            uploads.discard(u)            # refused content or terminated: nothing of it stays
        raise
    except BaseException:                 # cancelled at shutdown, or a disk error
        await sink.salvage()
        sink.close()
        uploads.set_offset(u, start + sink.written)
        raise
    sink.close()
    uploads.set_offset(u, start + sink.written, hasher)
    if u.offset == u.size:
        await uploads.complete(u, hasher)
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


def read_prefix(path: Path, n: int) -> bytes:
    if n <= 0:
        return b""
    with open(path, "rb") as f:
        return f.read(n)


def hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(FLUSH_BYTES):
            h.update(block)
    return h.hexdigest()
